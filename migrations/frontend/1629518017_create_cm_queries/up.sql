CREATE TABLE IF NOT EXISTS cm_queries (
    id bigserial PRIMARY KEY,
    monitor bigint NOT NULL REFERENCES cm_monitors (id) ON DELETE CASCADE,
    query text NOT NULL,
    created_by integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    changed_by integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    changed_at timestamp with time zone NOT NULL DEFAULT now(),
    next_run timestamp with time zone DEFAULT now(),
    latest_result timestamp with time zone
);
CREATE INDEX IF NOT EXISTS cm_queries_monitor ON cm_queries (monitor);
