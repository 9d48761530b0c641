ALTER TYPE lsif_index_state RENAME TO lsif_index_state_old;
CREATE TYPE lsif_index_state AS ENUM ('queued', 'processing', 'completed', 'errored');
ALTER TABLE lsif_indexes ALTER COLUMN state DROP DEFAULT;
ALTER TABLE lsif_indexes ALTER COLUMN state TYPE lsif_index_state
    USING (CASE state::text WHEN 'canceled' THEN 'errored' ELSE state::text END)::lsif_index_state;
ALTER TABLE lsif_indexes ALTER COLUMN state SET DEFAULT 'queued';
DROP TYPE lsif_index_state_old;
