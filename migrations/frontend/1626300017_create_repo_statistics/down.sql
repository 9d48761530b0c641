DROP TRIGGER IF EXISTS trig_recalc_repo_statistics_on_repo_update ON repo;
DROP TRIGGER IF EXISTS trig_recalc_repo_statistics_on_repo_insert ON repo;
DROP FUNCTION IF EXISTS recalc_repo_statistics_on_repo_update();
DROP FUNCTION IF EXISTS recalc_repo_statistics_on_repo_insert();
DROP TABLE IF EXISTS repo_statistics;
