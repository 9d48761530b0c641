CREATE TABLE IF NOT EXISTS security_event_logs (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    url text NOT NULL,
    user_id integer NOT NULL,
    anonymous_user_id text NOT NULL,
    source text NOT NULL,
    argument jsonb NOT NULL,
    version text NOT NULL,
    "timestamp" timestamp with time zone NOT NULL,
    CONSTRAINT security_event_logs_check_has_user CHECK (user_id = 0 AND anonymous_user_id <> '' OR user_id <> 0 AND anonymous_user_id = '' OR user_id <> 0 AND anonymous_user_id <> ''),
    CONSTRAINT security_event_logs_check_name_not_empty CHECK (name <> ''),
    CONSTRAINT security_event_logs_check_source_not_empty CHECK (source <> ''),
    CONSTRAINT security_event_logs_check_version_not_empty CHECK (version <> '')
);
CREATE INDEX IF NOT EXISTS security_event_logs_timestamp ON security_event_logs ("timestamp");
COMMENT ON TABLE security_event_logs IS 'Security-relevant events (sign-ins, token use), kept apart from product usage events.';
