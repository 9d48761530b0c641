DROP TABLE IF EXISTS lsif_retention_configuration;
