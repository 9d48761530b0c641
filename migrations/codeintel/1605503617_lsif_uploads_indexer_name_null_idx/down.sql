DROP INDEX IF EXISTS lsif_uploads_indexer_name_null_idx;
