DROP TABLE IF EXISTS insight_repo_names;
