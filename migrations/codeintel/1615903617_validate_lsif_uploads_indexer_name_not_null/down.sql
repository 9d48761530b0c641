ALTER TABLE lsif_uploads DROP CONSTRAINT IF EXISTS lsif_uploads_indexer_name_not_null;
ALTER TABLE lsif_uploads ADD CONSTRAINT lsif_uploads_indexer_name_not_null CHECK (indexer_name IS NOT NULL) NOT VALID;
