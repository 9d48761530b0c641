CREATE TABLE IF NOT EXISTS temporary_settings (
    id serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contents jsonb,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT temporary_settings_user_id_key UNIQUE (user_id)
);
COMMENT ON TABLE temporary_settings IS 'Per-user UI state, for example dismissed notices or the preferred theme.';
COMMENT ON COLUMN temporary_settings.contents IS 'JSON-encoded temporary settings.';
