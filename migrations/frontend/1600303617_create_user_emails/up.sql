CREATE TABLE IF NOT EXISTS user_emails (
    id bigserial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    verification_code text,
    verified_at timestamp with time zone,
    is_primary boolean NOT NULL DEFAULT false,
    CONSTRAINT user_emails_unique_email UNIQUE (email)
);
CREATE INDEX IF NOT EXISTS user_emails_user_id_idx ON user_emails (user_id);
