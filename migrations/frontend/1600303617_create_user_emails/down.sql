DROP TABLE IF EXISTS user_emails;
