DROP VIEW IF EXISTS codeintel_ranked_repositories;
