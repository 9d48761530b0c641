CREATE TABLE IF NOT EXISTS outbound_webhooks (
    id bigserial PRIMARY KEY,
    created_by integer REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    url text NOT NULL,
    secret bytea NOT NULL,
    event_types text[] NOT NULL DEFAULT '{}'::text[]
);
DROP TRIGGER IF EXISTS outbound_webhooks_set_updated_at ON outbound_webhooks;
CREATE TRIGGER outbound_webhooks_set_updated_at BEFORE UPDATE ON outbound_webhooks FOR EACH ROW EXECUTE FUNCTION set_updated_at();
