ALTER TABLE event_logs DROP COLUMN IF EXISTS public_argument;
ALTER TABLE event_logs DROP COLUMN IF EXISTS feature_flags;
