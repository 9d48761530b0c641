DROP TABLE IF EXISTS security_event_logs;
