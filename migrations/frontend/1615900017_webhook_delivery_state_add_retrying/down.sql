ALTER TYPE webhook_delivery_state RENAME TO webhook_delivery_state_old;
CREATE TYPE webhook_delivery_state AS ENUM ('pending', 'delivered', 'failed');
ALTER TABLE webhook_deliveries ALTER COLUMN state DROP DEFAULT;
ALTER TABLE webhook_deliveries ALTER COLUMN state TYPE webhook_delivery_state
    USING (CASE state::text WHEN 'retrying' THEN 'pending' ELSE state::text END)::webhook_delivery_state;
ALTER TABLE webhook_deliveries ALTER COLUMN state SET DEFAULT 'pending';
DROP TYPE webhook_delivery_state_old;
