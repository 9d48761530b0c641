CREATE TABLE IF NOT EXISTS codeintel_scip_metadata (
    id bigserial PRIMARY KEY,
    upload_id integer NOT NULL,
    tool_name text NOT NULL,
    tool_version text NOT NULL,
    tool_arguments text[] NOT NULL,
    text_document_encoding text NOT NULL,
    protocol_version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS codeintel_scip_metadata_upload_id ON codeintel_scip_metadata (upload_id);
COMMENT ON TABLE codeintel_scip_metadata IS 'Global metadata about a single processed upload.';
