ALTER TABLE repo ADD COLUMN IF NOT EXISTS blocked jsonb;
ALTER TABLE repo ADD CONSTRAINT repo_blocked_check CHECK (blocked IS NULL OR jsonb_typeof(blocked) = 'object') NOT VALID;
