DROP INDEX IF EXISTS repo_deleted_at_idx;
