ALTER TABLE lsif_uploads ADD COLUMN IF NOT EXISTS upload_size bigint;
COMMENT ON COLUMN lsif_uploads.upload_size IS 'Size of the raw upload payload, in bytes.';
