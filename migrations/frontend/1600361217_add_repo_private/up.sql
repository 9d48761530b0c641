ALTER TABLE repo ADD COLUMN IF NOT EXISTS private boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN repo.private IS 'Whether the repository is private on its code host.';
