CREATE TABLE IF NOT EXISTS event_logs (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    url text NOT NULL,
    user_id integer NOT NULL,
    anonymous_user_id text NOT NULL,
    source text NOT NULL,
    argument jsonb NOT NULL DEFAULT '{}'::jsonb,
    version text NOT NULL,
    "timestamp" timestamp with time zone NOT NULL,
    CONSTRAINT event_logs_check_has_user CHECK (user_id = 0 AND anonymous_user_id <> '' OR user_id <> 0 AND anonymous_user_id = '' OR user_id <> 0 AND anonymous_user_id <> ''),
    CONSTRAINT event_logs_check_name_not_empty CHECK (name <> ''),
    CONSTRAINT event_logs_check_version_not_empty CHECK (version <> '')
);
CREATE INDEX IF NOT EXISTS event_logs_timestamp ON event_logs ("timestamp");
CREATE INDEX IF NOT EXISTS event_logs_user_id ON event_logs (user_id);
COMMENT ON TABLE event_logs IS 'Product usage events. Grows without bound; pruned by a background job.';
