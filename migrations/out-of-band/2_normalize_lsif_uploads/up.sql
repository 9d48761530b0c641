UPDATE lsif_uploads
SET indexer_name = regexp_replace(split_part(indexer, ':', 1), '^sourcegraph/', ''),
    indexer_version = NULLIF(split_part(indexer, ':', 2), '')
-- = ANY(ARRAY(...)): the ids become index lookups, not a join against a scan of the table
WHERE id = ANY (ARRAY(
    SELECT id FROM lsif_uploads WHERE indexer_name IS NULL ORDER BY id LIMIT %(batch_size)s
));
