CREATE TABLE IF NOT EXISTS external_service_repos (
    external_service_id bigint NOT NULL REFERENCES external_services (id) ON DELETE CASCADE DEFERRABLE,
    repo_id integer NOT NULL REFERENCES repo (id) ON DELETE CASCADE DEFERRABLE,
    clone_url text NOT NULL,
    CONSTRAINT external_service_repos_repo_id_external_service_id_unique UNIQUE (repo_id, external_service_id)
);
CREATE INDEX IF NOT EXISTS external_service_repos_idx ON external_service_repos (external_service_id, repo_id);
