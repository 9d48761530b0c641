ALTER TABLE lsif_uploads DROP COLUMN IF EXISTS upload_size;
