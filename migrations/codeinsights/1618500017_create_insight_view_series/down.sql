DROP TABLE IF EXISTS insight_view_series;
