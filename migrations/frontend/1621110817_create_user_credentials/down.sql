DROP TABLE IF EXISTS user_credentials;
