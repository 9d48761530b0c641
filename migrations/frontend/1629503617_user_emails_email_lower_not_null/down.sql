CREATE INDEX IF NOT EXISTS user_emails_email_lower_null_idx ON user_emails (id) WHERE email_lower IS NULL;
ALTER TABLE user_emails ALTER COLUMN email_lower DROP NOT NULL;
