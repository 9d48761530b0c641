ALTER TABLE site_configs RENAME TO critical_and_site_config;
