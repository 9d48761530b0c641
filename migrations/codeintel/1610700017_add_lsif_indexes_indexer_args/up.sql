ALTER TABLE lsif_indexes ADD COLUMN IF NOT EXISTS indexer_args text[] NOT NULL DEFAULT '{}'::text[];
ALTER TABLE lsif_indexes ADD COLUMN IF NOT EXISTS outfile text NOT NULL DEFAULT '';
