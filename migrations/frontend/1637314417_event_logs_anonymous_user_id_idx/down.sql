DROP INDEX IF EXISTS event_logs_anonymous_user_id_idx;
