CREATE TABLE IF NOT EXISTS insight_dashboard_grants (
    id serial PRIMARY KEY,
    dashboard_id integer NOT NULL REFERENCES insight_dashboard (id) ON DELETE CASCADE,
    user_id integer,
    org_id integer,
    global boolean,
    CONSTRAINT insight_dashboard_grants_one_grantee CHECK (num_nonnulls(user_id, org_id, global) = 1)
);
CREATE INDEX IF NOT EXISTS insight_dashboard_grants_dashboard_id_fk_idx ON insight_dashboard_grants (dashboard_id);
CREATE INDEX IF NOT EXISTS insight_dashboard_grants_user_id_idx ON insight_dashboard_grants (user_id);
