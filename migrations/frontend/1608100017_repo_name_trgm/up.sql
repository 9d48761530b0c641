CREATE INDEX CONCURRENTLY IF NOT EXISTS repo_name_trgm ON repo USING gin (lower(name) gin_trgm_ops);
