ALTER TABLE lsif_dirty_repositories DROP COLUMN IF EXISTS set_dirty_at;
