CREATE TABLE IF NOT EXISTS role_permissions (
    role_id integer NOT NULL REFERENCES roles (id) ON DELETE CASCADE DEFERRABLE,
    permission_id integer NOT NULL REFERENCES permissions (id) ON DELETE CASCADE DEFERRABLE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (permission_id, role_id)
);
