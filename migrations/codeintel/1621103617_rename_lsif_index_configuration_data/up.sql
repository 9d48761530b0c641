ALTER TABLE lsif_index_configuration RENAME COLUMN data TO configuration;
COMMENT ON COLUMN lsif_index_configuration.configuration IS 'The raw user-supplied indexing configuration (JSON with comments).';
