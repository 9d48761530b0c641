-- Squashed schema of every codeintel migration before 3.20.0 (create_lsif_uploads .. create_lsif_dumps_view).
CREATE TYPE lsif_upload_state AS ENUM ('uploading', 'queued', 'processing', 'completed', 'errored', 'deleted');
CREATE TYPE lsif_index_state AS ENUM ('queued', 'processing', 'completed', 'errored');

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
    num_references integer,
    CONSTRAINT lsif_uploads_commit_valid_chars CHECK (commit ~ '^[a-z0-9]{40}$')
);
CREATE INDEX IF NOT EXISTS lsif_uploads_state ON lsif_uploads (state);
CREATE INDEX IF NOT EXISTS lsif_uploads_uploaded_at ON lsif_uploads (uploaded_at);
COMMENT ON TABLE lsif_uploads IS 'Precise code intelligence uploads. repository_id refers to repo.id in the frontend schema (no foreign key: the schemas may live in different databases).';
COMMENT ON COLUMN lsif_uploads.num_references IS 'Number of references to this upload from other uploads (denormalized).';

CREATE TABLE IF NOT EXISTS lsif_packages (
    id serial PRIMARY KEY,
    scheme text NOT NULL,
    name text NOT NULL,
    version text,
    dump_id integer NOT NULL REFERENCES lsif_uploads (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS lsif_packages_scheme_name_version ON lsif_packages (scheme, name, version);

CREATE TABLE IF NOT EXISTS lsif_references (
    id serial PRIMARY KEY,
    scheme text NOT NULL,
    name text NOT NULL,
    version text,
    filter bytea NOT NULL,
    dump_id integer NOT NULL REFERENCES lsif_uploads (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS lsif_references_package ON lsif_references (scheme, name, version);
COMMENT ON COLUMN lsif_references.filter IS 'A bloom filter encoded as gzipped JSON, over the identifiers imported from the package.';

CREATE TABLE IF NOT EXISTS lsif_nearest_uploads (
    repository_id integer NOT NULL,
    commit_bytea bytea NOT NULL,
    uploads jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS lsif_nearest_uploads_repository_id_commit_bytea ON lsif_nearest_uploads (repository_id, commit_bytea);

CREATE TABLE IF NOT EXISTS lsif_dirty_repositories (
    repository_id integer NOT NULL PRIMARY KEY,
    dirty_token integer NOT NULL,
    update_token integer NOT NULL,
    updated_at timestamp with time zone
);

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

CREATE OR REPLACE VIEW lsif_dumps AS
    SELECT u.id, u.commit, u.root, u.uploaded_at, u.state, u.failure_message, u.started_at,
           u.finished_at, u.repository_id, u.indexer, u.num_parts, u.uploaded_parts,
           u.finished_at AS processed_at
    FROM lsif_uploads u
    WHERE u.state = 'completed'::lsif_upload_state OR u.state = 'deleted'::lsif_upload_state;
