DROP VIEW IF EXISTS active_repos;
