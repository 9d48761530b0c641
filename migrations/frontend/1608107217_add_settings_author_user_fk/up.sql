ALTER TABLE settings ADD CONSTRAINT settings_author_user_id_fkey FOREIGN KEY (author_user_id) REFERENCES users (id) ON DELETE RESTRICT NOT VALID;
