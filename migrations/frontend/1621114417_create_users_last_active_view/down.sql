DROP VIEW IF EXISTS users_last_active;
