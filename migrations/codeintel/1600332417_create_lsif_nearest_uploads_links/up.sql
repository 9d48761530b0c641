CREATE TABLE IF NOT EXISTS lsif_nearest_uploads_links (
    repository_id integer NOT NULL,
    commit_bytea bytea NOT NULL,
    ancestor_commit_bytea bytea NOT NULL,
    distance integer NOT NULL
);
CREATE INDEX IF NOT EXISTS lsif_nearest_uploads_links_repository_id_commit_bytea ON lsif_nearest_uploads_links (repository_id, commit_bytea);
