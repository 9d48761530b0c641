CREATE TABLE IF NOT EXISTS cm_monitors (
    id bigserial PRIMARY KEY,
    created_by integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    description text NOT NULL,
    changed_at timestamp with time zone NOT NULL DEFAULT now(),
    changed_by integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    enabled boolean NOT NULL DEFAULT true,
    namespace_user_id integer REFERENCES users (id) ON DELETE CASCADE,
    namespace_org_id integer REFERENCES orgs (id) ON DELETE CASCADE
);
