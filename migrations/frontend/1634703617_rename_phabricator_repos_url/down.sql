ALTER TABLE phabricator_repos RENAME COLUMN uri TO url;
