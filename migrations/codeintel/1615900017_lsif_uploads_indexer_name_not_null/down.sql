ALTER TABLE lsif_uploads DROP CONSTRAINT IF EXISTS lsif_uploads_indexer_name_not_null;
