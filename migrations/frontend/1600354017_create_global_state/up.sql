CREATE TABLE IF NOT EXISTS global_state (
    site_id uuid NOT NULL PRIMARY KEY,
    initialized boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE global_state IS 'Exactly one row: the identity of this installation.';
