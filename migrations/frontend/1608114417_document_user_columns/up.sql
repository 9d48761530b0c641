COMMENT ON COLUMN users.display_name IS 'Shown instead of the username when set.';
COMMENT ON COLUMN users.site_admin IS 'Site administrators can change site configuration.';
