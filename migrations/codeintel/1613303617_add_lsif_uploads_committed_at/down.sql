ALTER TABLE lsif_uploads DROP COLUMN IF EXISTS committed_at;
