ALTER TABLE lsif_indexes ADD COLUMN IF NOT EXISTS docker_steps jsonb[] NOT NULL DEFAULT '{}'::jsonb[];
ALTER TABLE lsif_indexes ADD COLUMN IF NOT EXISTS root text NOT NULL DEFAULT '';
ALTER TABLE lsif_indexes ADD COLUMN IF NOT EXISTS indexer text NOT NULL DEFAULT '';
