COMMENT ON COLUMN lsif_dirty_repositories.updated_at IS NULL;
