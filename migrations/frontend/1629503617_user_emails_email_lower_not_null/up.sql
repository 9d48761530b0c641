ALTER TABLE user_emails ALTER COLUMN email_lower SET NOT NULL;
DROP INDEX IF EXISTS user_emails_email_lower_null_idx;
