ALTER TABLE orgs DROP COLUMN IF EXISTS slack_webhook_url;
