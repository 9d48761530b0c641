DROP TABLE IF EXISTS event_logs_export_allowlist;
