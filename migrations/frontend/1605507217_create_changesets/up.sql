CREATE TYPE changeset_external_state AS ENUM ('DRAFT', 'OPEN', 'CLOSED', 'MERGED', 'DELETED');
CREATE SEQUENCE IF NOT EXISTS changesets_display_number_seq;
CREATE TABLE IF NOT EXISTS changesets (
    id bigserial PRIMARY KEY,
    display_number bigint NOT NULL DEFAULT nextval('changesets_display_number_seq'),
    batch_change_ids jsonb NOT NULL DEFAULT '{}'::jsonb,
    repo_id integer NOT NULL REFERENCES repo (id) ON DELETE CASCADE DEFERRABLE,
    external_id text,
    external_service_type text NOT NULL,
    external_state changeset_external_state,
    metadata jsonb DEFAULT '{}'::jsonb,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT changesets_batch_change_ids_check CHECK (jsonb_typeof(batch_change_ids) = 'object'),
    CONSTRAINT changesets_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);
ALTER SEQUENCE changesets_display_number_seq OWNED BY changesets.display_number;
CREATE UNIQUE INDEX IF NOT EXISTS changesets_repo_external_id_unique ON changesets (repo_id, external_id);
