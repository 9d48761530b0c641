CREATE TABLE IF NOT EXISTS repo_kvps (
    repo_id integer NOT NULL REFERENCES repo (id) ON DELETE CASCADE,
    key text NOT NULL,
    value text,
    PRIMARY KEY (repo_id, key)
);
COMMENT ON TABLE repo_kvps IS 'Free-form key/value metadata attached to repositories.';
