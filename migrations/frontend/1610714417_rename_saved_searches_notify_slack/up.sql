ALTER TABLE saved_searches RENAME COLUMN notify_slack TO notify_slack_enabled;
