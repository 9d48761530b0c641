ALTER TABLE lsif_uploads ADD COLUMN IF NOT EXISTS indexer_name text;
ALTER TABLE lsif_uploads ADD COLUMN IF NOT EXISTS indexer_version text;
COMMENT ON COLUMN lsif_uploads.indexer_name IS 'Indexer name split out of indexer by out-of-band migration 2 (normalize_lsif_uploads).';
