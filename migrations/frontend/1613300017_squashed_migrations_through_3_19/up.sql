-- Squashed schema of every migration before 3.20.0 (create_users .. create_active_repos_view).
-- Used for fresh installs only; databases that applied the originals keep them.
CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY,
    username text NOT NULL,
    display_name text,
    avatar_url text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    site_admin boolean NOT NULL DEFAULT false,
    tags text[] DEFAULT '{}'::text[],
    invalidated_sessions_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT users_username_max_length CHECK (char_length(username) <= 255),
    CONSTRAINT users_display_name_max_length CHECK (char_length(display_name) <= 255)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_username ON users (username) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS users_tags_idx ON users USING gin (tags);
COMMENT ON TABLE users IS 'Registered user accounts.';
COMMENT ON COLUMN users.invalidated_sessions_at IS 'Sessions created before this time are rejected.';

CREATE TABLE IF NOT EXISTS user_emails (
    id bigserial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    verification_code text,
    verified_at timestamp with time zone,
    is_primary boolean NOT NULL DEFAULT false,
    CONSTRAINT user_emails_unique_email UNIQUE (email)
);
CREATE INDEX IF NOT EXISTS user_emails_user_id_idx ON user_emails (user_id);

CREATE TABLE IF NOT EXISTS orgs (
    id serial PRIMARY KEY,
    name text NOT NULL,
    display_name text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    CONSTRAINT orgs_name_max_length CHECK (char_length(name) <= 255),
    CONSTRAINT orgs_name_valid_chars CHECK (name ~ '^[a-zA-Z0-9](?:[a-zA-Z0-9]|[-.](?=[a-zA-Z0-9]))*-?$')
);
CREATE UNIQUE INDEX IF NOT EXISTS orgs_name ON orgs (name) WHERE deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS org_members (
    id serial PRIMARY KEY,
    org_id integer NOT NULL REFERENCES orgs (id) ON DELETE RESTRICT,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT org_members_org_id_user_id_key UNIQUE (org_id, user_id)
);

CREATE TABLE IF NOT EXISTS repo (
    id serial PRIMARY KEY,
    name text NOT NULL,
    description text,
    language text,
    fork boolean NOT NULL DEFAULT false,
    archived boolean NOT NULL DEFAULT false,
    uri text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone,
    deleted_at timestamp with time zone,
    external_id text,
    external_service_type text,
    external_service_id text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT repo_name_unique UNIQUE (name),
    CONSTRAINT repo_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);
CREATE UNIQUE INDEX IF NOT EXISTS repo_external_unique_idx ON repo (external_service_type, external_service_id, external_id);
CREATE INDEX IF NOT EXISTS repo_created_at ON repo (created_at);

CREATE TABLE IF NOT EXISTS external_services (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    display_name text NOT NULL,
    config text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    CONSTRAINT check_non_empty_config CHECK (btrim(config) <> '')
);
CREATE INDEX IF NOT EXISTS external_services_kind_idx ON external_services (kind) WHERE deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS external_service_repos (
    external_service_id bigint NOT NULL REFERENCES external_services (id) ON DELETE CASCADE DEFERRABLE,
    repo_id integer NOT NULL REFERENCES repo (id) ON DELETE CASCADE DEFERRABLE,
    clone_url text NOT NULL,
    CONSTRAINT external_service_repos_repo_id_external_service_id_unique UNIQUE (repo_id, external_service_id)
);
CREATE INDEX IF NOT EXISTS external_service_repos_idx ON external_service_repos (external_service_id, repo_id);

CREATE TABLE IF NOT EXISTS settings (
    id serial PRIMARY KEY,
    org_id integer REFERENCES orgs (id) ON DELETE RESTRICT,
    contents text NOT NULL DEFAULT '{}',
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    user_id integer REFERENCES users (id) ON DELETE RESTRICT,
    author_user_id integer
);
CREATE INDEX IF NOT EXISTS settings_org_id_idx ON settings (org_id);
CREATE INDEX IF NOT EXISTS settings_user_id_idx ON settings (user_id);

CREATE TABLE IF NOT EXISTS saved_searches (
    id serial PRIMARY KEY,
    description text NOT NULL,
    query text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    notify_owner boolean NOT NULL DEFAULT false,
    notify_slack boolean NOT NULL DEFAULT false,
    user_id integer REFERENCES users (id),
    org_id integer REFERENCES orgs (id),
    slack_webhook_url text,
    CONSTRAINT user_or_org_id_not_null CHECK (user_id IS NOT NULL AND org_id IS NULL OR org_id IS NOT NULL AND user_id IS NULL)
);

CREATE TABLE IF NOT EXISTS access_tokens (
    id bigserial PRIMARY KEY,
    subject_user_id integer NOT NULL REFERENCES users (id),
    value_sha256 bytea NOT NULL,
    note text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    last_used_at timestamp with time zone,
    deleted_at timestamp with time zone,
    creator_user_id integer NOT NULL REFERENCES users (id),
    scopes text[] NOT NULL,
    CONSTRAINT access_tokens_value_sha256_key UNIQUE (value_sha256)
);
CREATE INDEX IF NOT EXISTS access_tokens_lookup ON access_tokens USING hash (value_sha256) WHERE deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS event_logs (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    url text NOT NULL,
    user_id integer NOT NULL,
    anonymous_user_id text NOT NULL,
    source text NOT NULL,
    argument jsonb NOT NULL DEFAULT '{}'::jsonb,
    version text NOT NULL,
    "timestamp" timestamp with time zone NOT NULL,
    CONSTRAINT event_logs_check_has_user CHECK (user_id = 0 AND anonymous_user_id <> '' OR user_id <> 0 AND anonymous_user_id = '' OR user_id <> 0 AND anonymous_user_id <> ''),
    CONSTRAINT event_logs_check_name_not_empty CHECK (name <> ''),
    CONSTRAINT event_logs_check_version_not_empty CHECK (version <> '')
);
CREATE INDEX IF NOT EXISTS event_logs_timestamp ON event_logs ("timestamp");
CREATE INDEX IF NOT EXISTS event_logs_user_id ON event_logs (user_id);
COMMENT ON TABLE event_logs IS 'Product usage events. Grows without bound; pruned by a background job.';

CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER orgs_set_updated_at BEFORE UPDATE ON orgs FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TYPE critical_or_site AS ENUM ('critical', 'site');
CREATE TABLE IF NOT EXISTS critical_and_site_config (
    id serial PRIMARY KEY,
    type critical_or_site NOT NULL,
    contents text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS critical_and_site_config_unique ON critical_and_site_config (id, type);

CREATE OR REPLACE VIEW active_repos AS
    SELECT id, name, description, language, fork, archived, created_at, updated_at,
           external_id, external_service_type, external_service_id, metadata
    FROM repo
    WHERE deleted_at IS NULL;
COMMENT ON VIEW active_repos IS 'Repositories that are not soft-deleted.';
