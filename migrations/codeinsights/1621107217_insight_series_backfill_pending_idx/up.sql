CREATE INDEX CONCURRENTLY IF NOT EXISTS insight_series_backfill_pending_idx ON insight_series (id) WHERE builtin AND backfill_completed_at IS NULL;
