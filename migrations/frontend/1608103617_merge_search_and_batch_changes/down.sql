DROP INDEX IF EXISTS batch_changes_name_trgm;
