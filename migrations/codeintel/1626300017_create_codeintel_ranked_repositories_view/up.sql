CREATE OR REPLACE VIEW codeintel_ranked_repositories AS
    SELECT r.repository_id, r.precision, r.updated_at, max(d.committed_at) AS last_commit_at
    FROM codeintel_path_ranks r
    LEFT JOIN codeintel_commit_dates d ON d.repository_id = r.repository_id
    GROUP BY r.repository_id, r.precision, r.updated_at;
