ALTER TABLE lsif_uploads DROP COLUMN IF EXISTS indexer_version;
ALTER TABLE lsif_uploads DROP COLUMN IF EXISTS indexer_name;
