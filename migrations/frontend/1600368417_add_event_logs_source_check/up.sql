ALTER TABLE event_logs ADD CONSTRAINT event_logs_check_source_not_empty CHECK (source <> '') NOT VALID;
