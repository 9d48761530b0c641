ALTER TABLE phabricator_repos RENAME COLUMN url TO uri;
