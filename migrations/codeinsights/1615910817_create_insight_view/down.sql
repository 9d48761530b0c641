DROP TABLE IF EXISTS insight_view;
DROP TYPE IF EXISTS insight_presentation_type;
