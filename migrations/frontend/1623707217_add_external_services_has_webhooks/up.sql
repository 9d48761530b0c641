ALTER TABLE external_services ADD COLUMN IF NOT EXISTS has_webhooks boolean;
UPDATE external_services SET has_webhooks = (position('"webhooks"' IN config) > 0) WHERE has_webhooks IS NULL;
