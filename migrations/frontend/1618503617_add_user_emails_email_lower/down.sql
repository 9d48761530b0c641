DROP TRIGGER IF EXISTS user_emails_set_email_lower ON user_emails;
DROP FUNCTION IF EXISTS user_emails_set_email_lower();
ALTER TABLE user_emails DROP COLUMN IF EXISTS email_lower;
