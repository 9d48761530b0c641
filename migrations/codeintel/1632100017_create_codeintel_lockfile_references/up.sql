CREATE TABLE IF NOT EXISTS codeintel_lockfile_references (
    id serial PRIMARY KEY,
    repository_name text NOT NULL,
    revspec text NOT NULL,
    package_scheme text NOT NULL,
    package_name text NOT NULL,
    package_version text NOT NULL,
    repository_id integer,
    commit_bytea bytea,
    last_check_at timestamp with time zone,
    depends_on integer[] DEFAULT '{}'::integer[],
    resolution_lockfile text,
    resolution_repository_id integer,
    resolution_commit_bytea bytea
);
CREATE UNIQUE INDEX IF NOT EXISTS codeintel_lockfile_references_repository_name_revspec_package ON codeintel_lockfile_references (repository_name, revspec, package_scheme, package_name, package_version, resolution_lockfile, resolution_repository_id, resolution_commit_bytea);
CREATE INDEX IF NOT EXISTS codeintel_lockfile_references_last_check_at ON codeintel_lockfile_references (last_check_at);
