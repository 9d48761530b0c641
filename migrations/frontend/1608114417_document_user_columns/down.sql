COMMENT ON COLUMN users.site_admin IS NULL;
COMMENT ON COLUMN users.display_name IS NULL;
