ALTER TABLE insight_series_points ADD COLUMN IF NOT EXISTS capture text;
