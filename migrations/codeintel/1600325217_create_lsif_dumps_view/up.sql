CREATE OR REPLACE VIEW lsif_dumps AS
    SELECT u.id, u.commit, u.root, u.uploaded_at, u.state, u.failure_message, u.started_at,
           u.finished_at, u.repository_id, u.indexer, u.num_parts, u.uploaded_parts,
           u.finished_at AS processed_at
    FROM lsif_uploads u
    WHERE u.state = 'completed'::lsif_upload_state OR u.state = 'deleted'::lsif_upload_state;
