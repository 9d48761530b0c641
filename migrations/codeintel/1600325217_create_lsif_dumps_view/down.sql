DROP VIEW IF EXISTS lsif_dumps;
