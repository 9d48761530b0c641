DROP TABLE IF EXISTS codeintel_scip_symbols;
DROP TABLE IF EXISTS codeintel_scip_symbol_names;
