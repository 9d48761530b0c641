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
