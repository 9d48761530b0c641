UPDATE user_emails
SET email_lower = lower(email)
WHERE id IN (
    SELECT id FROM user_emails WHERE email_lower IS NULL ORDER BY id LIMIT %(batch_size)s
);
