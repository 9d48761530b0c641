DROP TABLE IF EXISTS codeintel_path_ranks;
