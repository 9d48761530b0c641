CREATE INDEX CONCURRENTLY IF NOT EXISTS event_logs_anonymous_user_id_idx ON event_logs (anonymous_user_id);
