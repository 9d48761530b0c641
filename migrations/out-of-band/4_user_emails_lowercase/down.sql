UPDATE user_emails
SET email_lower = NULL
WHERE id IN (
    SELECT id FROM user_emails WHERE email_lower IS NOT NULL ORDER BY id DESC LIMIT %(batch_size)s
);
