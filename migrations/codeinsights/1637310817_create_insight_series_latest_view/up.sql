CREATE OR REPLACE VIEW insight_series_latest AS
    SELECT s.id AS series_id, s.series_id AS series_key, max(p."time") AS latest_time, count(*) AS points
    FROM insight_series s
    JOIN insight_series_points p ON p.series_id = s.id
    WHERE s.deleted_at IS NULL
    GROUP BY s.id, s.series_id;
