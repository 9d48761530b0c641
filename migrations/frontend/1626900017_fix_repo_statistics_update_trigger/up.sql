CREATE OR REPLACE FUNCTION recalc_repo_statistics_on_repo_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO repo_statistics (total, soft_deleted)
    SELECT
        (SELECT count(*) FROM newtab WHERE deleted_at IS NULL) - (SELECT count(*) FROM oldtab WHERE deleted_at IS NULL),
        (SELECT count(*) FROM newtab WHERE deleted_at IS NOT NULL) - (SELECT count(*) FROM oldtab WHERE deleted_at IS NOT NULL);
    RETURN NULL;
END;
$$;

DELETE FROM repo_statistics;
INSERT INTO repo_statistics (total, soft_deleted)
SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM repo;
