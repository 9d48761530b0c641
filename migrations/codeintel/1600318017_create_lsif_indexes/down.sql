DROP TABLE IF EXISTS lsif_indexes;
DROP TYPE IF EXISTS lsif_index_state;
