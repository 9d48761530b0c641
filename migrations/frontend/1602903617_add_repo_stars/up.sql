ALTER TABLE repo ADD COLUMN IF NOT EXISTS stars integer;
COMMENT ON COLUMN repo.stars IS 'Stargazer count, copied from metadata by out-of-band migration 1 (backfill_repo_stars).';
