"""An upgrade (or downgrade) as an operator runs it, composing the other subpackages: the releases
a database can move to, the preflight checks and backup, the multi-release run that plans from the
live state, persists and resumes, and that run watched live and reported (docs/design.md §6, §10, §12)."""
