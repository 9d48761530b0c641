ALTER TABLE settings DROP CONSTRAINT IF EXISTS settings_author_user_id_fkey;
ALTER TABLE settings ADD CONSTRAINT settings_author_user_id_fkey FOREIGN KEY (author_user_id) REFERENCES users (id) ON DELETE RESTRICT NOT VALID;
