DROP TABLE IF EXISTS codeintel_scip_metadata;
