CREATE TABLE IF NOT EXISTS access_tokens (
    id bigserial PRIMARY KEY,
    subject_user_id integer NOT NULL REFERENCES users (id),
    value_sha256 bytea NOT NULL,
    note text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    last_used_at timestamp with time zone,
    deleted_at timestamp with time zone,
    creator_user_id integer NOT NULL REFERENCES users (id),
    scopes text[] NOT NULL,
    CONSTRAINT access_tokens_value_sha256_key UNIQUE (value_sha256)
);
CREATE INDEX IF NOT EXISTS access_tokens_lookup ON access_tokens USING hash (value_sha256) WHERE deleted_at IS NULL;
