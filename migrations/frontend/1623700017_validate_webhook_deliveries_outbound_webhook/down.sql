ALTER TABLE webhook_deliveries DROP CONSTRAINT IF EXISTS webhook_deliveries_outbound_webhook_id_fkey;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_outbound_webhook_id_fkey FOREIGN KEY (outbound_webhook_id) REFERENCES outbound_webhooks (id) ON DELETE CASCADE NOT VALID;
