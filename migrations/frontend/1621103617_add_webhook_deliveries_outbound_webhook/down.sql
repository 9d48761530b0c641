ALTER TABLE webhook_deliveries DROP CONSTRAINT IF EXISTS webhook_deliveries_outbound_webhook_id_fkey;
ALTER TABLE webhook_deliveries DROP COLUMN IF EXISTS outbound_webhook_id;
