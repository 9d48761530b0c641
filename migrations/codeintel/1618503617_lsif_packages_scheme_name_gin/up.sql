CREATE INDEX CONCURRENTLY IF NOT EXISTS lsif_packages_scheme_name_gin ON lsif_packages USING gin (scheme, name);
