ALTER TABLE batch_changes DROP COLUMN IF EXISTS last_applier_id;
ALTER TABLE batch_changes DROP COLUMN IF EXISTS last_applied_at;
