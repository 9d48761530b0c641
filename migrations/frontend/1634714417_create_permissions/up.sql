CREATE TABLE IF NOT EXISTS permissions (
    id serial PRIMARY KEY,
    namespace text NOT NULL,
    action text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT permissions_unique_namespace_action UNIQUE (namespace, action),
    CONSTRAINT action_not_blank CHECK (action <> ''),
    CONSTRAINT namespace_not_blank CHECK (namespace <> '')
);
