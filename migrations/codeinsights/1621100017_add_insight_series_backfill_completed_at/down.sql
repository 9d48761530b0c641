ALTER TABLE insight_series DROP COLUMN IF EXISTS backfill_completed_at;
