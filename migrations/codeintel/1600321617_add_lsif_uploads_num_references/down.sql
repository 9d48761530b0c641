ALTER TABLE lsif_uploads DROP COLUMN IF EXISTS num_references;
