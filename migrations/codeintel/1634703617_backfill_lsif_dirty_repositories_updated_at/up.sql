UPDATE lsif_dirty_repositories SET updated_at = set_dirty_at WHERE updated_at IS NULL;
COMMENT ON COLUMN lsif_dirty_repositories.updated_at IS 'When the commit graph of this repository was last recalculated.';
