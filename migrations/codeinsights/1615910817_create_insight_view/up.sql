CREATE TYPE insight_presentation_type AS ENUM ('line', 'pie');
CREATE TABLE IF NOT EXISTS insight_view (
    id serial PRIMARY KEY,
    title text,
    description text,
    unique_id text NOT NULL,
    presentation_type insight_presentation_type NOT NULL DEFAULT 'line',
    default_filter_include_repo_regex text,
    default_filter_exclude_repo_regex text,
    CONSTRAINT insight_view_unique_id_key UNIQUE (unique_id)
);
