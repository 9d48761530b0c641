DROP TABLE IF EXISTS gitserver_repos;
