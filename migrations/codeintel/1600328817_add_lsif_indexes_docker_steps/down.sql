ALTER TABLE lsif_indexes DROP COLUMN IF EXISTS indexer;
ALTER TABLE lsif_indexes DROP COLUMN IF EXISTS root;
ALTER TABLE lsif_indexes DROP COLUMN IF EXISTS docker_steps;
