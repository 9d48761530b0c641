ALTER TABLE settings DROP CONSTRAINT IF EXISTS settings_author_user_id_fkey;
