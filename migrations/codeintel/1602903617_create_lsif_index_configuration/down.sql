DROP TABLE IF EXISTS lsif_index_configuration;
