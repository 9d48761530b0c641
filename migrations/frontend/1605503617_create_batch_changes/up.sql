CREATE TABLE IF NOT EXISTS batch_changes (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    description text,
    namespace_user_id integer REFERENCES users (id) ON DELETE CASCADE DEFERRABLE,
    namespace_org_id integer REFERENCES orgs (id) ON DELETE CASCADE DEFERRABLE,
    creator_id integer REFERENCES users (id) ON DELETE SET NULL DEFERRABLE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    closed_at timestamp with time zone,
    CONSTRAINT batch_changes_has_1_namespace CHECK ((namespace_user_id IS NULL) <> (namespace_org_id IS NULL)),
    CONSTRAINT batch_changes_name_not_blank CHECK (name <> '')
);
CREATE UNIQUE INDEX IF NOT EXISTS batch_changes_unique_user_id ON batch_changes (namespace_user_id, name) WHERE namespace_user_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS batch_changes_unique_org_id ON batch_changes (namespace_org_id, name) WHERE namespace_org_id IS NOT NULL;
