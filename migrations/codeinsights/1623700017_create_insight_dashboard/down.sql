DROP TABLE IF EXISTS insight_dashboard;
