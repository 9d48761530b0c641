CREATE INDEX CONCURRENTLY IF NOT EXISTS repo_deleted_at_idx ON repo (deleted_at) WHERE deleted_at IS NOT NULL;
