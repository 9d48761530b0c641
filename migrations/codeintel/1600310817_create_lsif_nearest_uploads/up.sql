CREATE TABLE IF NOT EXISTS lsif_nearest_uploads (
    repository_id integer NOT NULL,
    commit_bytea bytea NOT NULL,
    uploads jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS lsif_nearest_uploads_repository_id_commit_bytea ON lsif_nearest_uploads (repository_id, commit_bytea);
