COMMENT ON COLUMN lsif_uploads.content_type IS NULL;
