ALTER TABLE lsif_uploads ADD COLUMN IF NOT EXISTS num_references integer;
COMMENT ON COLUMN lsif_uploads.num_references IS 'Number of references to this upload from other uploads (denormalized).';
