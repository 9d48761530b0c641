DROP INDEX IF EXISTS lsif_packages_dump_id;
