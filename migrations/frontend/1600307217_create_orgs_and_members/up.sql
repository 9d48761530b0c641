CREATE TABLE IF NOT EXISTS orgs (
    id serial PRIMARY KEY,
    name text NOT NULL,
    display_name text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    CONSTRAINT orgs_name_max_length CHECK (char_length(name) <= 255),
    CONSTRAINT orgs_name_valid_chars CHECK (name ~ '^[a-zA-Z0-9](?:[a-zA-Z0-9]|[-.](?=[a-zA-Z0-9]))*-?$')
);
CREATE UNIQUE INDEX IF NOT EXISTS orgs_name ON orgs (name) WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS org_members (
    id serial PRIMARY KEY,
    org_id integer NOT NULL REFERENCES orgs (id) ON DELETE RESTRICT,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT org_members_org_id_user_id_key UNIQUE (org_id, user_id)
);
