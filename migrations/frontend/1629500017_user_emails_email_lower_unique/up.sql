CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS user_emails_email_lower_unique ON user_emails (email_lower);
