CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY,
    username text NOT NULL,
    display_name text,
    avatar_url text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    site_admin boolean NOT NULL DEFAULT false,
    CONSTRAINT users_username_max_length CHECK (char_length(username) <= 255),
    CONSTRAINT users_display_name_max_length CHECK (char_length(display_name) <= 255)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_username ON users (username) WHERE deleted_at IS NULL;
COMMENT ON TABLE users IS 'Registered user accounts.';
