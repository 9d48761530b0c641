CREATE TABLE IF NOT EXISTS executor_heartbeats (
    id serial PRIMARY KEY,
    hostname text NOT NULL,
    queue_name text NOT NULL,
    os text NOT NULL,
    architecture text NOT NULL,
    executor_version text NOT NULL,
    src_cli_version text NOT NULL,
    first_seen_at timestamp with time zone NOT NULL DEFAULT now(),
    last_seen_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT executor_heartbeats_hostname_key UNIQUE (hostname)
);
COMMENT ON TABLE executor_heartbeats IS 'Tracks the most recent activity of executors attached to this instance.';
