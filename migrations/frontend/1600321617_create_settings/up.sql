CREATE TABLE IF NOT EXISTS settings (
    id serial PRIMARY KEY,
    org_id integer REFERENCES orgs (id) ON DELETE RESTRICT,
    contents text NOT NULL DEFAULT '{}',
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    user_id integer REFERENCES users (id) ON DELETE RESTRICT,
    author_user_id integer
);
CREATE INDEX IF NOT EXISTS settings_org_id_idx ON settings (org_id);
CREATE INDEX IF NOT EXISTS settings_user_id_idx ON settings (user_id);
