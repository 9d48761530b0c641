UPDATE lsif_uploads
SET indexer_name = regexp_replace(split_part(indexer, ':', 1), '^sourcegraph/', ''),
    indexer_version = NULLIF(split_part(indexer, ':', 2), '')
WHERE id IN (
    SELECT id FROM lsif_uploads WHERE indexer_name IS NULL ORDER BY id LIMIT %(batch_size)s
);
