ALTER TABLE insight_series_points DROP COLUMN IF EXISTS capture;
