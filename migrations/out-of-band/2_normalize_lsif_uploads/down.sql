UPDATE lsif_uploads
SET indexer_name = NULL,
    indexer_version = NULL
-- = ANY(ARRAY(...)): the ids become index lookups, not a join against a scan of the table
WHERE id = ANY (ARRAY(
    SELECT id FROM lsif_uploads WHERE indexer_name IS NOT NULL ORDER BY id DESC LIMIT %(batch_size)s
));
