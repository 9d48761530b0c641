ALTER TABLE lsif_dirty_repositories ADD COLUMN IF NOT EXISTS set_dirty_at timestamp with time zone NOT NULL DEFAULT now();
