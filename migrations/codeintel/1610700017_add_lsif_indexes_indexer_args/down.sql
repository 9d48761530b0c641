ALTER TABLE lsif_indexes DROP COLUMN IF EXISTS outfile;
ALTER TABLE lsif_indexes DROP COLUMN IF EXISTS indexer_args;
