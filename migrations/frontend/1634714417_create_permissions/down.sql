DROP TABLE IF EXISTS permissions;
