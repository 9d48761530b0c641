CREATE TABLE IF NOT EXISTS insight_dashboard (
    id serial PRIMARY KEY,
    title text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    save boolean NOT NULL DEFAULT false,
    type text DEFAULT 'standard'
);
COMMENT ON COLUMN insight_dashboard.save IS 'Dashboards created by the system are not saved until a user edits them.';
