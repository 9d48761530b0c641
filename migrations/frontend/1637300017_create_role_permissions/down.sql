DROP TABLE IF EXISTS role_permissions;
