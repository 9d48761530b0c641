DROP TABLE IF EXISTS codeintel_lockfiles;
