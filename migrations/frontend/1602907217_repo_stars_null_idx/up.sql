CREATE INDEX CONCURRENTLY IF NOT EXISTS repo_stars_null_idx ON repo (id) WHERE stars IS NULL;
