DROP TABLE IF EXISTS lsif_dirty_repositories;
