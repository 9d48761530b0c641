UPDATE repo
SET stars = COALESCE((metadata ->> 'stargazerCount')::integer, 0)
-- = ANY(ARRAY(...)): the ids become index lookups, not a join against a scan of the table
WHERE id = ANY (ARRAY(
    SELECT id FROM repo WHERE stars IS NULL ORDER BY id LIMIT %(batch_size)s
));
