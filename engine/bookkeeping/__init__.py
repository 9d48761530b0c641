"""pgferry's tables in each target database (migration_logs, upgrade_runs, privileged_grants,
collation_versions) and each schema's status read from them against the definitions (docs/design.md §7)."""
