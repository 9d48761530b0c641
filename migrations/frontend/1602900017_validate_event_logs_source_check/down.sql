ALTER TABLE event_logs DROP CONSTRAINT IF EXISTS event_logs_check_source_not_empty;
ALTER TABLE event_logs ADD CONSTRAINT event_logs_check_source_not_empty CHECK (source <> '') NOT VALID;
