CREATE TABLE IF NOT EXISTS sub_repo_permissions (
    repo_id integer NOT NULL REFERENCES repo (id) ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version integer NOT NULL DEFAULT 1,
    path_includes text[],
    path_excludes text[],
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT sub_repo_permissions_repo_id_user_id_version_uindex UNIQUE (repo_id, user_id, version)
);
CREATE INDEX IF NOT EXISTS sub_repo_perms_user_id ON sub_repo_permissions (user_id);
COMMENT ON TABLE sub_repo_permissions IS 'Path-level permissions within a repository, synced from the code host.';
