DROP TABLE IF EXISTS lsif_configuration_policies;
