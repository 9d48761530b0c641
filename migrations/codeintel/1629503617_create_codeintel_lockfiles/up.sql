CREATE TABLE IF NOT EXISTS codeintel_lockfiles (
    id serial PRIMARY KEY,
    repository_id integer NOT NULL,
    commit_bytea bytea NOT NULL,
    codeintel_lockfile_reference_ids integer[] NOT NULL,
    lockfile text,
    fidelity text NOT NULL DEFAULT 'flat',
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS codeintel_lockfiles_repository_id_commit_bytea_lockfile ON codeintel_lockfiles (repository_id, commit_bytea, lockfile);
CREATE INDEX IF NOT EXISTS codeintel_lockfiles_references ON codeintel_lockfiles USING gin (codeintel_lockfile_reference_ids);
