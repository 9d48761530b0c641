DROP TABLE IF EXISTS external_services;
