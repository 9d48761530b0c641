UPDATE user_emails
SET email_lower = lower(email)
-- = ANY(ARRAY(...)): the ids become index lookups, not a join against a scan of the table
WHERE id = ANY (ARRAY(
    SELECT id FROM user_emails WHERE email_lower IS NULL ORDER BY id LIMIT %(batch_size)s
));
