ALTER TABLE saved_searches RENAME COLUMN notify_slack_enabled TO notify_slack;
