DROP INDEX IF EXISTS lsif_uploads_repository_id_commit;
