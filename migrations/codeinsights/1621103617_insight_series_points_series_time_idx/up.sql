CREATE INDEX CONCURRENTLY IF NOT EXISTS insight_series_points_series_id_time_idx ON insight_series_points (series_id, "time");
