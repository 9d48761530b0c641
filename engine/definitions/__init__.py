"""Definitions on disk loaded into `Definitions`: migration folders, SQL and YAML parsed, one graph
per schema, the release catalogue and the out-of-band migrations, validated, cached between
commands (docs/design.md §3, §4, §5). Reads files only; never connects."""
