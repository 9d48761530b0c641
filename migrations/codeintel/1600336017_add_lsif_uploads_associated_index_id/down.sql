ALTER TABLE lsif_uploads DROP COLUMN IF EXISTS associated_index_id;
