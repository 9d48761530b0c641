CREATE TABLE IF NOT EXISTS event_logs_export_allowlist (
    id serial PRIMARY KEY,
    event_name text NOT NULL,
    CONSTRAINT event_logs_export_allowlist_event_name_key UNIQUE (event_name)
);
INSERT INTO event_logs_export_allowlist (event_name)
VALUES ('SearchResultsQueried'), ('ViewRepository'), ('CodeIntelligenceHover')
ON CONFLICT (event_name) DO NOTHING;
COMMENT ON TABLE event_logs_export_allowlist IS 'Event names that may be exported in usage statistics.';
