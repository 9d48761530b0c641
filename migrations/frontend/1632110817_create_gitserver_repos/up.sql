CREATE TABLE IF NOT EXISTS gitserver_repos (
    repo_id integer NOT NULL PRIMARY KEY REFERENCES repo (id) ON DELETE CASCADE,
    clone_status text NOT NULL DEFAULT 'not_cloned',
    shard_id text NOT NULL,
    last_error text,
    last_fetched timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT gitserver_repos_clone_status_check CHECK (clone_status IN ('not_cloned', 'cloning', 'cloned'))
);
CREATE INDEX IF NOT EXISTS gitserver_repos_cloned_status_idx ON gitserver_repos (repo_id) WHERE clone_status = 'cloned';
CREATE INDEX IF NOT EXISTS gitserver_repos_last_error_idx ON gitserver_repos (repo_id) WHERE last_error IS NOT NULL;
