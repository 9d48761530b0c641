-- Demo data for the codeintel schema at release 3.20.0 (not a migration; pgferry demo runs it once).
INSERT INTO lsif_uploads (commit, root, uploaded_at, state, started_at, finished_at, repository_id, indexer,
                          num_parts, uploaded_parts)
SELECT md5(g::text) || left(md5((g * 2)::text), 8),
       CASE WHEN mod(g, 5) = 0 THEN 'cmd/' ELSE '' END,
       now() - make_interval(mins => g),
       CASE WHEN mod(g, 100) = 0 THEN 'errored'::lsif_upload_state ELSE 'completed'::lsif_upload_state END,
       now() - make_interval(mins => g),
       now() - make_interval(mins => g) + interval '90 seconds',
       1 + mod(g, 200000),
       (ARRAY['lsif-go', 'sourcegraph/lsif-go:v1.2.0', 'lsif-node:0.4.1', 'sourcegraph/lsif-java:1.8.0',
              'lsif-clang', 'sourcegraph/scip-typescript:v0.3.3', 'rust-analyzer'])[1 + mod(g, 7)],
       1,
       '{0}'
FROM generate_series(1, 200000) AS g;

INSERT INTO lsif_packages (scheme, name, version, dump_id)
SELECT 'gomod', 'github.com/org-' || mod(g, 500) || '/lib-' || mod(g, 3000), 'v1.' || mod(g, 20) || '.0', g
FROM generate_series(1, 20000) AS g;

INSERT INTO lsif_references (scheme, name, version, filter, dump_id)
SELECT 'gomod', 'github.com/org-' || mod(g, 500) || '/lib-' || mod(g, 3000), 'v1.' || mod(g, 20) || '.0',
       decode(md5(g::text), 'hex'), 1 + mod(g * 7, 200000)
FROM generate_series(1, 20000) AS g;

INSERT INTO lsif_indexes (commit, state, repository_id, queued_at, finished_at, indexer, root)
SELECT md5((g + 7)::text) || left(md5((g * 3)::text), 8),
       'completed', 1 + mod(g, 200000), now() - make_interval(mins => g), now() - make_interval(mins => g),
       'sourcegraph/lsif-go', ''
FROM generate_series(1, 20000) AS g;

INSERT INTO lsif_dirty_repositories (repository_id, dirty_token, update_token, updated_at)
SELECT g, 1, CASE WHEN mod(g, 3) = 0 THEN 0 ELSE 1 END, CASE WHEN mod(g, 3) = 0 THEN NULL ELSE now() END
FROM generate_series(1, 1000) AS g;

INSERT INTO lsif_retention_configuration (repository_id, max_age_for_non_stale_branches_seconds, max_age_for_non_stale_tags_seconds)
SELECT g, 7776000, 31536000 FROM generate_series(1, 100) AS g;

ANALYZE;
