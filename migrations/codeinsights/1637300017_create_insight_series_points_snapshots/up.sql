CREATE TABLE IF NOT EXISTS insight_series_points_snapshots (
    series_id integer NOT NULL REFERENCES insight_series (id) ON DELETE CASCADE,
    "time" timestamp with time zone NOT NULL,
    value double precision NOT NULL,
    repo_id integer,
    repo_name_id integer,
    capture text
);
CREATE INDEX IF NOT EXISTS insight_series_points_snapshots_series_id_idx ON insight_series_points_snapshots (series_id);
COMMENT ON TABLE insight_series_points_snapshots IS 'The latest values of each series, recorded more often than historical points and truncated on each recording.';
