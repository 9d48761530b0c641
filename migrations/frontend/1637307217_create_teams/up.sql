CREATE TABLE IF NOT EXISTS teams (
    id serial PRIMARY KEY,
    name citext NOT NULL,
    display_name text,
    readonly boolean NOT NULL DEFAULT false,
    parent_team_id integer REFERENCES teams (id) ON DELETE CASCADE,
    creator_id integer REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT teams_name_max_length CHECK (char_length(name::text) <= 255),
    CONSTRAINT teams_display_name_max_length CHECK (char_length(display_name) <= 255)
);
CREATE UNIQUE INDEX IF NOT EXISTS teams_name ON teams (name);
CREATE TABLE IF NOT EXISTS team_members (
    team_id integer NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
