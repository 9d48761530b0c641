ALTER TABLE lsif_indexes DROP COLUMN IF EXISTS should_reindex;
ALTER TABLE lsif_uploads DROP COLUMN IF EXISTS should_reindex;
