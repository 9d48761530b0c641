CREATE INDEX CONCURRENTLY IF NOT EXISTS lsif_uploads_indexer_name_null_idx ON lsif_uploads (id) WHERE indexer_name IS NULL;
