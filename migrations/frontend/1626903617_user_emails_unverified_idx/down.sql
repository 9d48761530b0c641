DROP INDEX IF EXISTS user_emails_unverified_idx;
