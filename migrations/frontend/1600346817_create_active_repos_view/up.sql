CREATE OR REPLACE VIEW active_repos AS
    SELECT id, name, description, language, fork, archived, created_at, updated_at,
           external_id, external_service_type, external_service_id, metadata
    FROM repo
    WHERE deleted_at IS NULL;
COMMENT ON VIEW active_repos IS 'Repositories that are not soft-deleted.';
