CREATE TABLE IF NOT EXISTS insight_series_recording_times (
    insight_series_id integer REFERENCES insight_series (id) ON DELETE CASCADE,
    recording_time timestamp with time zone,
    snapshot boolean,
    CONSTRAINT insight_series_recording_times_insight_series_id_recording__key UNIQUE (insight_series_id, recording_time)
);
