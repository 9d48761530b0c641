DROP TABLE IF EXISTS sub_repo_permissions;
