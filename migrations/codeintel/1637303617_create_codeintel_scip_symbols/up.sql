CREATE TABLE IF NOT EXISTS codeintel_scip_symbol_names (
    id integer NOT NULL,
    upload_id integer NOT NULL,
    name_segment text NOT NULL,
    prefix_id integer,
    PRIMARY KEY (upload_id, id)
);
CREATE TABLE IF NOT EXISTS codeintel_scip_symbols (
    upload_id integer NOT NULL,
    symbol_id integer NOT NULL,
    document_lookup_id bigint NOT NULL,
    schema_version integer NOT NULL,
    definition_ranges bytea,
    reference_ranges bytea,
    implementation_ranges bytea,
    PRIMARY KEY (upload_id, symbol_id, document_lookup_id)
);
