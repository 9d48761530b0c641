DELETE FROM repo_statistics;
