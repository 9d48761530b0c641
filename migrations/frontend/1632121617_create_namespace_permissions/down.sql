DROP TABLE IF EXISTS namespace_permissions;
