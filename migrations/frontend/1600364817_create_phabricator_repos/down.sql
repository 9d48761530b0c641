DROP TABLE IF EXISTS phabricator_repos;
