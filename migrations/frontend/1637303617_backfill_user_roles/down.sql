DELETE FROM user_roles;
