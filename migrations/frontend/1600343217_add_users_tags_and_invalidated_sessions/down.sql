DROP INDEX IF EXISTS users_tags_idx;
ALTER TABLE users DROP COLUMN IF EXISTS invalidated_sessions_at;
ALTER TABLE users DROP COLUMN IF EXISTS tags;
