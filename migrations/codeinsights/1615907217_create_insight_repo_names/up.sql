CREATE TABLE IF NOT EXISTS insight_repo_names (
    id serial PRIMARY KEY,
    name text NOT NULL,
    CONSTRAINT insight_repo_names_name_check CHECK (name <> '')
);
CREATE UNIQUE INDEX IF NOT EXISTS insight_repo_names_name_unique_idx ON insight_repo_names (name);
CREATE INDEX IF NOT EXISTS insight_repo_names_name_prefix_idx ON insight_repo_names (name text_pattern_ops);
