CREATE TABLE IF NOT EXISTS insight_series_incomplete_points (
    id serial PRIMARY KEY,
    series_id integer NOT NULL REFERENCES insight_series (id) ON DELETE CASCADE,
    reason text NOT NULL,
    "time" timestamp with time zone NOT NULL,
    repo_id integer
);
CREATE UNIQUE INDEX IF NOT EXISTS insight_series_incomplete_points_unique_idx ON insight_series_incomplete_points (series_id, reason, "time", repo_id);
