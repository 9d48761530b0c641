DROP TABLE IF EXISTS lsif_packages;
