UPDATE lsif_uploads
SET indexer_name = NULL,
    indexer_version = NULL
WHERE id IN (
    SELECT id FROM lsif_uploads WHERE indexer_name IS NOT NULL ORDER BY id DESC LIMIT %(batch_size)s
);
