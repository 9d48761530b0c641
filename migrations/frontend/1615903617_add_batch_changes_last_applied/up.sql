ALTER TABLE batch_changes ADD COLUMN IF NOT EXISTS last_applied_at timestamp with time zone;
ALTER TABLE batch_changes ADD COLUMN IF NOT EXISTS last_applier_id integer REFERENCES users (id) ON DELETE SET NULL DEFERRABLE;
