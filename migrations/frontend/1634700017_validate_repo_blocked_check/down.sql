ALTER TABLE repo DROP CONSTRAINT IF EXISTS repo_blocked_check;
ALTER TABLE repo ADD CONSTRAINT repo_blocked_check CHECK (blocked IS NULL OR jsonb_typeof(blocked) = 'object') NOT VALID;
