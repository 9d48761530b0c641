CREATE TABLE IF NOT EXISTS repo_statistics (
    total bigint NOT NULL DEFAULT 0,
    soft_deleted bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE repo_statistics IS 'Delta rows; sum() of each column gives the current repository counts.';
CREATE OR REPLACE FUNCTION recalc_repo_statistics_on_repo_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO repo_statistics (total, soft_deleted)
    SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM newtab;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION recalc_repo_statistics_on_repo_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO repo_statistics (total, soft_deleted)
    SELECT
        (SELECT count(*) FROM newtab WHERE deleted_at IS NULL) - (SELECT count(*) FROM oldtab WHERE deleted_at IS NULL),
        (SELECT count(*) FROM newtab WHERE deleted_at IS NOT NULL);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS trig_recalc_repo_statistics_on_repo_insert ON repo;
CREATE TRIGGER trig_recalc_repo_statistics_on_repo_insert AFTER INSERT ON repo REFERENCING NEW TABLE AS newtab FOR EACH STATEMENT EXECUTE FUNCTION recalc_repo_statistics_on_repo_insert();
DROP TRIGGER IF EXISTS trig_recalc_repo_statistics_on_repo_update ON repo;
CREATE TRIGGER trig_recalc_repo_statistics_on_repo_update AFTER UPDATE ON repo REFERENCING OLD TABLE AS oldtab NEW TABLE AS newtab FOR EACH STATEMENT EXECUTE FUNCTION recalc_repo_statistics_on_repo_update();
