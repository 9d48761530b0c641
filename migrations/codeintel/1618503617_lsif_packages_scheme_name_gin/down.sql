DROP INDEX IF EXISTS lsif_packages_scheme_name_gin;
