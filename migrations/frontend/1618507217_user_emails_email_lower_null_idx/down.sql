DROP INDEX IF EXISTS user_emails_email_lower_null_idx;
