DROP VIEW IF EXISTS insight_dashboard_series;
