ALTER TABLE critical_and_site_config RENAME TO site_configs;
