CREATE TABLE IF NOT EXISTS lsif_retention_configuration (
    id serial PRIMARY KEY,
    repository_id integer NOT NULL,
    max_age_for_non_stale_branches_seconds integer NOT NULL,
    max_age_for_non_stale_tags_seconds integer NOT NULL,
    CONSTRAINT lsif_retention_configuration_repository_id_key UNIQUE (repository_id)
);
