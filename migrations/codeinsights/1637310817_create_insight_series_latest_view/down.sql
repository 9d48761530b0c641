DROP VIEW IF EXISTS insight_series_latest;
