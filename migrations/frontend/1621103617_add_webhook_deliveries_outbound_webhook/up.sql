ALTER TABLE webhook_deliveries ADD COLUMN IF NOT EXISTS outbound_webhook_id bigint;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_outbound_webhook_id_fkey FOREIGN KEY (outbound_webhook_id) REFERENCES outbound_webhooks (id) ON DELETE CASCADE NOT VALID;
