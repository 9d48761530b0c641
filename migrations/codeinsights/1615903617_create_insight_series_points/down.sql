DROP TABLE IF EXISTS insight_series_points;
