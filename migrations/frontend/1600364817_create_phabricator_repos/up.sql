CREATE TABLE IF NOT EXISTS phabricator_repos (
    id serial PRIMARY KEY,
    callsign text NOT NULL,
    repo_name text NOT NULL,
    url text NOT NULL DEFAULT '',
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    CONSTRAINT phabricator_repos_repo_name_key UNIQUE (repo_name)
);
