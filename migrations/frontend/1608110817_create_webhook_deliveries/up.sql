CREATE TYPE webhook_delivery_state AS ENUM ('pending', 'delivered', 'failed');
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id bigserial PRIMARY KEY,
    external_service_id bigint REFERENCES external_services (id) ON DELETE CASCADE,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    state webhook_delivery_state NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    delivered_at timestamp with time zone
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_undelivered_idx ON webhook_deliveries (created_at) WHERE delivered_at IS NULL;
