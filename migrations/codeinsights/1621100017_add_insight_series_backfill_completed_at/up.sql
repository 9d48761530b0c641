ALTER TABLE insight_series ADD COLUMN IF NOT EXISTS backfill_completed_at timestamp with time zone;
COMMENT ON COLUMN insight_series.backfill_completed_at IS 'Set by out-of-band migration 3 (insight_series_backfill) once historical points exist.';
