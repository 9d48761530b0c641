CREATE INDEX CONCURRENTLY IF NOT EXISTS user_emails_email_lower_null_idx ON user_emails (id) WHERE email_lower IS NULL;
