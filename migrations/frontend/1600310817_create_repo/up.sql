CREATE TABLE IF NOT EXISTS repo (
    id serial PRIMARY KEY,
    name text NOT NULL,
    description text,
    language text,
    fork boolean NOT NULL DEFAULT false,
    archived boolean NOT NULL DEFAULT false,
    uri text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone,
    deleted_at timestamp with time zone,
    external_id text,
    external_service_type text,
    external_service_id text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT repo_name_unique UNIQUE (name),
    CONSTRAINT repo_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);
CREATE UNIQUE INDEX IF NOT EXISTS repo_external_unique_idx ON repo (external_service_type, external_service_id, external_id);
CREATE INDEX IF NOT EXISTS repo_created_at ON repo (created_at);
