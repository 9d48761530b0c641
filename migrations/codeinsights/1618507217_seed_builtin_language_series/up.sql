INSERT INTO insight_series (series_id, query, builtin, recording_interval_days)
SELECT 'builtin-lang-' || lower(lang) || '-' || p, 'lang:' || lower(lang) || ' ' || pattern || ' count:all', true, 7
FROM unnest(ARRAY['Go', 'TypeScript', 'JavaScript', 'Python', 'Java', 'Kotlin', 'Rust', 'C', 'Cpp', 'CSharp',
                  'Ruby', 'PHP', 'Scala', 'Swift', 'ObjectiveC', 'Haskell', 'OCaml', 'Elixir', 'Erlang', 'Clojure',
                  'Dart', 'Lua', 'Perl', 'R', 'Julia', 'Zig', 'Nim', 'Crystal', 'Fortran', 'COBOL',
                  'Shell', 'PowerShell', 'SQL', 'HCL', 'Starlark', 'Protobuf', 'GraphQL', 'Svelte', 'Vue', 'Elm']) AS lang
CROSS JOIN generate_series(1, 25) AS p
CROSS JOIN LATERAL (SELECT (ARRAY['TODO', 'FIXME', 'deprecated', 'panic', 'unsafe'])[1 + mod(p, 5)] AS pattern) AS x
ON CONFLICT (series_id) DO NOTHING;
