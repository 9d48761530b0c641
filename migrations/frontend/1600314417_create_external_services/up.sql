CREATE TABLE IF NOT EXISTS external_services (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    display_name text NOT NULL,
    config text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    CONSTRAINT check_non_empty_config CHECK (btrim(config) <> '')
);
CREATE INDEX IF NOT EXISTS external_services_kind_idx ON external_services (kind) WHERE deleted_at IS NULL;
