DROP TABLE IF EXISTS insight_dashboard_insight_view;
