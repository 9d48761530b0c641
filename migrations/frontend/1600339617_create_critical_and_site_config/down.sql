DROP TABLE IF EXISTS critical_and_site_config;
DROP TYPE IF EXISTS critical_or_site;
