ALTER TABLE lsif_uploads DROP COLUMN IF EXISTS execution_logs;
ALTER TABLE lsif_indexes DROP COLUMN IF EXISTS execution_logs;
