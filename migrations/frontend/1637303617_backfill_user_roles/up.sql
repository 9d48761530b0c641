INSERT INTO user_roles (user_id, role_id)
SELECT u.id, r.id FROM users u JOIN roles r ON r.name = 'USER' WHERE u.deleted_at IS NULL
ON CONFLICT DO NOTHING;
