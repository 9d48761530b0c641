ALTER TABLE lsif_uploads ADD COLUMN IF NOT EXISTS committed_at timestamp with time zone;
