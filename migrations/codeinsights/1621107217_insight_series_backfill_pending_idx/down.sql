DROP INDEX IF EXISTS insight_series_backfill_pending_idx;
