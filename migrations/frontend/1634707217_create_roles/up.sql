CREATE TABLE IF NOT EXISTS roles (
    id serial PRIMARY KEY,
    name text NOT NULL,
    system boolean NOT NULL DEFAULT false,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT roles_name_key UNIQUE (name),
    CONSTRAINT name_not_blank CHECK (name <> '')
);
INSERT INTO roles (name, system) VALUES ('USER', true), ('SITE_ADMINISTRATOR', true) ON CONFLICT (name) DO NOTHING;
COMMENT ON COLUMN roles.system IS 'System roles are created by the product and cannot be deleted.';
