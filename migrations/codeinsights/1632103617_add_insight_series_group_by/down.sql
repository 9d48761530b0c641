ALTER TABLE insight_series DROP CONSTRAINT IF EXISTS insight_series_generation_method_check;
ALTER TABLE insight_series DROP COLUMN IF EXISTS generation_method;
ALTER TABLE insight_series DROP COLUMN IF EXISTS group_by;
