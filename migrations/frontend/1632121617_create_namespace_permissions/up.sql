CREATE TABLE IF NOT EXISTS namespace_permissions (
    id serial PRIMARY KEY,
    namespace text NOT NULL,
    resource_id integer NOT NULL,
    action text NOT NULL,
    user_id integer REFERENCES users (id) ON DELETE CASCADE DEFERRABLE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT namespace_permissions_unique_namespace_action UNIQUE (namespace, resource_id, action, user_id),
    CONSTRAINT namespace_not_blank CHECK (namespace <> ''),
    CONSTRAINT action_not_blank CHECK (action <> '')
);
