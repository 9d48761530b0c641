DROP TABLE IF EXISTS search_context_repos;
DROP TABLE IF EXISTS search_contexts;
