CREATE TABLE IF NOT EXISTS lsif_dirty_repositories (
    repository_id integer NOT NULL PRIMARY KEY,
    dirty_token integer NOT NULL,
    update_token integer NOT NULL,
    updated_at timestamp with time zone
);
