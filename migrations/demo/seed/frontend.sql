-- Demo data for the frontend schema at release 3.20.0 (not a migration; pgferry demo runs it once).
INSERT INTO global_state (site_id, initialized) VALUES (md5('pgferry-demo-site')::uuid, true);

INSERT INTO critical_and_site_config (type, contents) VALUES
    ('critical', '{"externalURL": "https://sourcegraph.example.com"}'),
    ('site', '{"search.index.enabled": true, "disableAutoGitUpdates": false}');

INSERT INTO users (username, display_name, avatar_url, created_at, site_admin)
SELECT 'user' || g,
       'User Number ' || g,
       CASE WHEN mod(g, 3) = 0 THEN 'https://avatars.example.com/u/' || g END,
       now() - make_interval(mins => g),
       g <= 3
FROM generate_series(1, 200000) AS g;

INSERT INTO user_emails (user_id, email, created_at, verified_at, is_primary)
SELECT g,
       'User' || g || '@Example.COM',
       now() - make_interval(mins => g),
       CASE WHEN mod(g, 10) <> 0 THEN now() - make_interval(mins => g) END,
       true
FROM generate_series(1, 200000) AS g;

INSERT INTO orgs (name, display_name)
SELECT 'org-' || g, 'Organization ' || g FROM generate_series(1, 500) AS g;

INSERT INTO org_members (org_id, user_id)
SELECT mod(g, 500) + 1, g FROM generate_series(1, 20000) AS g;

INSERT INTO external_services (kind, display_name, config) VALUES
    ('GITHUB', 'GitHub.com', '{"url": "https://github.com", "token": "REDACTED", "webhooks": [{"org": "org-1"}]}'),
    ('GITLAB', 'GitLab (self-managed)', '{"url": "https://gitlab.example.com", "token": "REDACTED"}'),
    ('PHABRICATOR', 'Phabricator', '{"url": "https://phabricator.example.com", "token": "REDACTED"}');

INSERT INTO repo (name, description, language, fork, archived, uri, created_at, updated_at, deleted_at,
                  external_id, external_service_type, external_service_id, metadata)
SELECT 'github.com/org-' || mod(g, 500) || '/repo-' || g,
       'Sample repository number ' || g,
       (ARRAY['Go', 'TypeScript', 'Python', 'Java', 'Rust', 'C++', 'Ruby', 'Kotlin'])[1 + mod(g, 8)],
       mod(g, 7) = 0,
       mod(g, 23) = 0,
       'github.com/org-' || mod(g, 500) || '/repo-' || g,
       now() - make_interval(hours => g),
       now() - make_interval(mins => g),
       CASE WHEN mod(g, 50) = 0 THEN now() - make_interval(days => mod(g, 30)) END,
       'R_' || md5(g::text),
       'github',
       'https://github.com/',
       jsonb_build_object('stargazerCount', mod(g * 7919, 50000),
                          'forkCount', mod(g * 31, 2000),
                          'isTemplate', mod(g, 97) = 0,
                          'viewerPermission', 'READ')
FROM generate_series(1, 200000) AS g;

INSERT INTO external_service_repos (external_service_id, repo_id, clone_url)
SELECT 1, g, 'https://github.com/org-' || mod(g, 500) || '/repo-' || g || '.git'
FROM generate_series(1, 20000) AS g;

INSERT INTO settings (org_id, user_id, contents, author_user_id)
SELECT NULL, g, '{"search.defaultPatternType": "literal"}', g FROM generate_series(1, 100) AS g;

INSERT INTO saved_searches (description, query, notify_owner, notify_slack, user_id)
SELECT 'Saved search ' || g, 'repo:^github\.com/org-' || mod(g, 500) || '/ TODO', mod(g, 2) = 0, false, g
FROM generate_series(1, 1000) AS g;

INSERT INTO access_tokens (subject_user_id, value_sha256, note, creator_user_id, scopes)
SELECT g, sha256(('token-' || g)::bytea), 'CI token ' || g, g, ARRAY['user:all']
FROM generate_series(1, 5000) AS g;

INSERT INTO user_external_accounts (user_id, service_type, service_id, account_id, client_id, account_data)
SELECT g, 'github', 'https://github.com/', 'gh-' || g, 'client-1', jsonb_build_object('login', 'user' || g)
FROM generate_series(1, 10000) AS g;

INSERT INTO survey_responses (user_id, score, reason, created_at)
SELECT g, mod(g, 11), 'Because ' || g, now() - make_interval(days => mod(g, 365))
FROM generate_series(1, 2000) AS g;

INSERT INTO phabricator_repos (callsign, repo_name, url)
SELECT 'CS' || g, 'phabricator.example.com/diffusion/' || g, 'https://phabricator.example.com'
FROM generate_series(1, 10) AS g;

INSERT INTO event_logs (name, url, user_id, anonymous_user_id, source, argument, version, "timestamp")
SELECT (ARRAY['SearchResultsQueried', 'ViewRepository', 'ViewBlob', 'SignIn', 'CodeIntelligenceHover',
              'GoToDefinition', 'FindReferences', 'SavedSearchNotificationSent', 'ViewSearchResults',
              'CodeMonitorEmailLinkClicked', 'BatchChangeCreated', 'InsightAddition'])[1 + mod(g, 12)],
       'https://sourcegraph.example.com/search?q=repo-' || mod(g, 1000),
       CASE WHEN mod(g, 4) = 0 THEN 0 ELSE 1 + mod(g, 200000) END,
       CASE WHEN mod(g, 4) = 0 THEN 'anon-' || md5(g::text) ELSE '' END,
       CASE WHEN mod(g, 5) = 0 THEN 'BACKEND' ELSE 'WEB' END,
       jsonb_build_object('durationMs', mod(g, 997)),
       '3.20.0',
       now() - make_interval(secs => g * 4)
FROM generate_series(1, 500000) AS g;

