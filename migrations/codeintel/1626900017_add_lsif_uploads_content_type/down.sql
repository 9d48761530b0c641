ALTER TABLE lsif_uploads DROP COLUMN IF EXISTS content_type;
