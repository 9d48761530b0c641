CREATE TABLE IF NOT EXISTS user_external_accounts (
    id serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id),
    service_type text NOT NULL,
    service_id text NOT NULL,
    account_id text NOT NULL,
    auth_data jsonb,
    account_data jsonb,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    client_id text NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS user_external_accounts_account ON user_external_accounts (service_type, service_id, client_id, account_id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS user_external_accounts_user_id ON user_external_accounts (user_id) WHERE deleted_at IS NULL;
