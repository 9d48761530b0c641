ALTER TABLE insight_series DROP COLUMN IF EXISTS repositories;
ALTER TABLE insight_series DROP COLUMN IF EXISTS builtin;
