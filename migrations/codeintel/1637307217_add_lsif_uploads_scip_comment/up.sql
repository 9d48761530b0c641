COMMENT ON COLUMN lsif_uploads.content_type IS 'application/x-ndjson+lsif or application/x-protobuf+scip.';
