ALTER TABLE event_logs ADD COLUMN IF NOT EXISTS feature_flags jsonb;
ALTER TABLE event_logs ADD COLUMN IF NOT EXISTS public_argument jsonb NOT NULL DEFAULT '{}'::jsonb;
COMMENT ON COLUMN event_logs.public_argument IS 'Event arguments that may leave the instance in usage statistics.';
