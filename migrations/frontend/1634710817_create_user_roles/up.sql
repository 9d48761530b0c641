CREATE TABLE IF NOT EXISTS user_roles (
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE,
    role_id integer NOT NULL REFERENCES roles (id) ON DELETE CASCADE DEFERRABLE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role_id)
);
