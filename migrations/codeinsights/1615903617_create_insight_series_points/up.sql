CREATE TABLE IF NOT EXISTS insight_series_points (
    series_id integer NOT NULL REFERENCES insight_series (id) ON DELETE CASCADE,
    "time" timestamp with time zone NOT NULL,
    value double precision NOT NULL,
    metadata_id integer,
    repo_id integer,
    repo_name_id integer,
    original_repo_name_id integer
);
CREATE INDEX IF NOT EXISTS insight_series_points_repo_id_idx ON insight_series_points (repo_id);
COMMENT ON COLUMN insight_series_points.repo_id IS 'repo.id in the frontend schema; no foreign key (separate database).';
