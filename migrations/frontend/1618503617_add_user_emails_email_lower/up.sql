ALTER TABLE user_emails ADD COLUMN IF NOT EXISTS email_lower text;
CREATE OR REPLACE FUNCTION user_emails_set_email_lower() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.email_lower := lower(NEW.email);
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS user_emails_set_email_lower ON user_emails;
CREATE TRIGGER user_emails_set_email_lower BEFORE INSERT OR UPDATE OF email ON user_emails FOR EACH ROW EXECUTE FUNCTION user_emails_set_email_lower();
COMMENT ON COLUMN user_emails.email_lower IS 'lower(email); existing rows are backfilled by out-of-band migration 4 (user_emails_lowercase).';
