DROP TABLE IF EXISTS temporary_settings;
