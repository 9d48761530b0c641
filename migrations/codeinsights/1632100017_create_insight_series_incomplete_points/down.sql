DROP TABLE IF EXISTS insight_series_incomplete_points;
