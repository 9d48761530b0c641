ALTER TABLE lsif_indexes ADD COLUMN IF NOT EXISTS execution_logs jsonb[];
ALTER TABLE lsif_uploads ADD COLUMN IF NOT EXISTS execution_logs jsonb[];
