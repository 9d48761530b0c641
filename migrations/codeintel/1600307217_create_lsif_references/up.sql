CREATE TABLE IF NOT EXISTS lsif_references (
    id serial PRIMARY KEY,
    scheme text NOT NULL,
    name text NOT NULL,
    version text,
    filter bytea NOT NULL,
    dump_id integer NOT NULL REFERENCES lsif_uploads (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS lsif_references_package ON lsif_references (scheme, name, version);
COMMENT ON COLUMN lsif_references.filter IS 'A bloom filter encoded as gzipped JSON, over the identifiers imported from the package.';
