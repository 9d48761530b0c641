ALTER TABLE external_services DROP COLUMN IF EXISTS has_webhooks;
