ALTER TABLE orgs ADD COLUMN IF NOT EXISTS slack_webhook_url text;
