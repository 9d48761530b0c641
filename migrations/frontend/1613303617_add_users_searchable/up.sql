ALTER TABLE users ADD COLUMN IF NOT EXISTS searchable boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN users.searchable IS 'Whether the user appears in user search and mentions.';
