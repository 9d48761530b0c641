CREATE TABLE IF NOT EXISTS lsif_index_configuration (
    id bigserial PRIMARY KEY,
    repository_id integer NOT NULL,
    data bytea NOT NULL,
    CONSTRAINT lsif_index_configuration_repository_id_key UNIQUE (repository_id)
);
