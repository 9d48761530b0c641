DROP TABLE IF EXISTS user_external_accounts;
