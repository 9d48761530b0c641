CREATE TYPE lsif_upload_state AS ENUM ('uploading', 'queued', 'processing', 'completed', 'errored', 'deleted');
CREATE TABLE IF NOT EXISTS lsif_uploads (
    id serial PRIMARY KEY,
    commit text NOT NULL,
    root text NOT NULL DEFAULT '',
    uploaded_at timestamp with time zone NOT NULL DEFAULT now(),
    state lsif_upload_state NOT NULL DEFAULT 'queued',
    failure_message text,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    repository_id integer NOT NULL,
    indexer text NOT NULL,
    num_parts integer NOT NULL,
    uploaded_parts integer[] NOT NULL,
    CONSTRAINT lsif_uploads_commit_valid_chars CHECK (commit ~ '^[a-z0-9]{40}$')
);
CREATE INDEX IF NOT EXISTS lsif_uploads_state ON lsif_uploads (state);
CREATE INDEX IF NOT EXISTS lsif_uploads_uploaded_at ON lsif_uploads (uploaded_at);
COMMENT ON TABLE lsif_uploads IS 'Precise code intelligence uploads. repository_id refers to repo.id in the frontend schema (no foreign key: the schemas may live in different databases).';
