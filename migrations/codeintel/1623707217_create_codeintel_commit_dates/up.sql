CREATE TABLE IF NOT EXISTS codeintel_commit_dates (
    repository_id integer NOT NULL,
    commit_bytea bytea NOT NULL,
    committed_at timestamp with time zone,
    PRIMARY KEY (repository_id, commit_bytea)
);
