CREATE TABLE IF NOT EXISTS lsif_packages (
    id serial PRIMARY KEY,
    scheme text NOT NULL,
    name text NOT NULL,
    version text,
    dump_id integer NOT NULL REFERENCES lsif_uploads (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS lsif_packages_scheme_name_version ON lsif_packages (scheme, name, version);
