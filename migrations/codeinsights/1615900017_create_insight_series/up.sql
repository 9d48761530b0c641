CREATE TABLE IF NOT EXISTS insight_series (
    id serial PRIMARY KEY,
    series_id text NOT NULL,
    query text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    oldest_historical_at timestamp with time zone NOT NULL DEFAULT (now() - '1 year'::interval),
    last_recorded_at timestamp with time zone NOT NULL DEFAULT (now() - '10 years'::interval),
    next_recording_after timestamp with time zone NOT NULL DEFAULT now(),
    recording_interval_days integer NOT NULL DEFAULT 7,
    deleted_at timestamp with time zone,
    CONSTRAINT insight_series_series_id_key UNIQUE (series_id)
);
CREATE INDEX IF NOT EXISTS insight_series_next_recording_after_idx ON insight_series (next_recording_after);
COMMENT ON TABLE insight_series IS 'Data series of Code Insights: one search query recorded over time.';
COMMENT ON COLUMN insight_series.series_id IS 'Stable identifier of the series, shared with the UI.';
