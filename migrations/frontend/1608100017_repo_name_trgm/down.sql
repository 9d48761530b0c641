DROP INDEX IF EXISTS repo_name_trgm;
