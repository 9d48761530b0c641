DROP INDEX IF EXISTS repo_stars_null_idx;
