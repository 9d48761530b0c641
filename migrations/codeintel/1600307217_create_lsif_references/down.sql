DROP TABLE IF EXISTS lsif_references;
