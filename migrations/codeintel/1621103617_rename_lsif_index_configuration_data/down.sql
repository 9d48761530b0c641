COMMENT ON COLUMN lsif_index_configuration.configuration IS NULL;
ALTER TABLE lsif_index_configuration RENAME COLUMN configuration TO data;
