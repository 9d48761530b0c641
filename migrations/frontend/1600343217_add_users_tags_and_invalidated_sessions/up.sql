ALTER TABLE users ADD COLUMN IF NOT EXISTS tags text[] DEFAULT '{}'::text[];
ALTER TABLE users ADD COLUMN IF NOT EXISTS invalidated_sessions_at timestamp with time zone NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS users_tags_idx ON users USING gin (tags);
COMMENT ON COLUMN users.invalidated_sessions_at IS 'Sessions created before this time are rejected.';
