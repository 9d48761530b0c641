CREATE TYPE lsif_index_state AS ENUM ('queued', 'processing', 'completed', 'errored');
CREATE TABLE IF NOT EXISTS lsif_indexes (
    id bigserial PRIMARY KEY,
    commit text NOT NULL,
    queued_at timestamp with time zone NOT NULL DEFAULT now(),
    state lsif_index_state NOT NULL DEFAULT 'queued',
    failure_message text,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    repository_id integer NOT NULL,
    process_after timestamp with time zone,
    num_resets integer NOT NULL DEFAULT 0,
    num_failures integer NOT NULL DEFAULT 0,
    CONSTRAINT lsif_indexes_commit_valid_chars CHECK (commit ~ '^[a-z0-9]{40}$')
);
