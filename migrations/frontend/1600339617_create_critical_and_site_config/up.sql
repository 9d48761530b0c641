CREATE TYPE critical_or_site AS ENUM ('critical', 'site');
CREATE TABLE IF NOT EXISTS critical_and_site_config (
    id serial PRIMARY KEY,
    type critical_or_site NOT NULL,
    contents text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS critical_and_site_config_unique ON critical_and_site_config (id, type);
