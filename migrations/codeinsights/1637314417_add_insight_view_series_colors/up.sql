ALTER TABLE insight_view_series ADD COLUMN IF NOT EXISTS line_color text NOT NULL DEFAULT '';
ALTER TABLE insight_view_series ADD COLUMN IF NOT EXISTS legend text NOT NULL DEFAULT '';
UPDATE insight_view_series SET line_color = stroke, legend = label WHERE stroke IS NOT NULL OR label IS NOT NULL;
