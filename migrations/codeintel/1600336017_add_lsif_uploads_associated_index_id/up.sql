ALTER TABLE lsif_uploads ADD COLUMN IF NOT EXISTS associated_index_id bigint;
