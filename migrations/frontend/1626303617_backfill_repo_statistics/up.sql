DELETE FROM repo_statistics;
INSERT INTO repo_statistics (total, soft_deleted)
SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM repo;
