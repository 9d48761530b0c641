CREATE TABLE IF NOT EXISTS notebooks (
    id bigserial PRIMARY KEY,
    title text NOT NULL,
    blocks jsonb NOT NULL DEFAULT '[]'::jsonb,
    public boolean NOT NULL,
    creator_user_id integer REFERENCES users (id) ON DELETE SET NULL DEFERRABLE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    blocks_tsvector tsvector GENERATED ALWAYS AS (jsonb_to_tsvector('english'::regconfig, blocks, '["string"]'::jsonb)) STORED,
    CONSTRAINT blocks_is_array CHECK (jsonb_typeof(blocks) = 'array')
);
CREATE INDEX IF NOT EXISTS notebooks_blocks_tsvector_idx ON notebooks USING gin (blocks_tsvector);
CREATE INDEX IF NOT EXISTS notebooks_title_trgm_idx ON notebooks USING gin (title gin_trgm_ops);
