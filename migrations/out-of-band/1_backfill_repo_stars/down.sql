UPDATE repo
SET stars = NULL
-- = ANY(ARRAY(...)): the ids become index lookups, not a join against a scan of the table
WHERE id = ANY (ARRAY(
    SELECT id FROM repo WHERE stars IS NOT NULL ORDER BY id DESC LIMIT %(batch_size)s
));
