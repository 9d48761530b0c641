CREATE INDEX CONCURRENTLY IF NOT EXISTS batch_changes_name_trgm ON batch_changes USING gin (name gin_trgm_ops);
