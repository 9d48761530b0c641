"""What is wrong with a database and how to fix it: failed, stale and running attempts diagnosed
and acted on (docs/design.md §9), and drift between a database's live shape and its release's
expected shape, with fix SQL (docs/design.md §10)."""
