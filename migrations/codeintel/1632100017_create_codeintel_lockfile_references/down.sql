DROP TABLE IF EXISTS codeintel_lockfile_references;
