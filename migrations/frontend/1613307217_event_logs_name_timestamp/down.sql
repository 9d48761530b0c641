DROP INDEX IF EXISTS event_logs_name_timestamp;
