CREATE INDEX CONCURRENTLY IF NOT EXISTS user_emails_unverified_idx ON user_emails (created_at) WHERE verified_at IS NULL;
