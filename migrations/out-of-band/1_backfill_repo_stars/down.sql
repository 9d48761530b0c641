UPDATE repo
SET stars = NULL
WHERE id IN (
    SELECT id FROM repo WHERE stars IS NOT NULL ORDER BY id DESC LIMIT %(batch_size)s
);
