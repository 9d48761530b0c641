UPDATE user_emails
SET email_lower = NULL
-- = ANY(ARRAY(...)): the ids become index lookups, not a join against a scan of the table
WHERE id = ANY (ARRAY(
    SELECT id FROM user_emails WHERE email_lower IS NOT NULL ORDER BY id DESC LIMIT %(batch_size)s
));
