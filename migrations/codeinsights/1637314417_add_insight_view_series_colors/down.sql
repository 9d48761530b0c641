ALTER TABLE insight_view_series DROP COLUMN IF EXISTS legend;
ALTER TABLE insight_view_series DROP COLUMN IF EXISTS line_color;
