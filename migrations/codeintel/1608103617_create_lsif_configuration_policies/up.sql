CREATE TABLE IF NOT EXISTS lsif_configuration_policies (
    id serial PRIMARY KEY,
    repository_id integer,
    name text NOT NULL,
    type text NOT NULL,
    pattern text NOT NULL,
    retention_enabled boolean NOT NULL,
    retention_duration_hours integer,
    retain_intermediate_commits boolean NOT NULL,
    indexing_enabled boolean NOT NULL,
    index_commit_max_age_hours integer,
    index_intermediate_commits boolean NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT lsif_configuration_policies_type_check CHECK (type IN ('GIT_TREE', 'GIT_COMMIT', 'GIT_TAG', 'GIT_BRANCH'))
);
CREATE INDEX IF NOT EXISTS lsif_configuration_policies_repository_id ON lsif_configuration_policies (repository_id);
