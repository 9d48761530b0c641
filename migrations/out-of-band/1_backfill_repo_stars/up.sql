UPDATE repo
SET stars = COALESCE((metadata ->> 'stargazerCount')::integer, 0)
WHERE id IN (
    SELECT id FROM repo WHERE stars IS NULL ORDER BY id LIMIT %(batch_size)s
);
