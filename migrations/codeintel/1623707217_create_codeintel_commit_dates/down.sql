DROP TABLE IF EXISTS codeintel_commit_dates;
