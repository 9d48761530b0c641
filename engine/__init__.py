"""pgferry's migration engine: a library that never prints and never imports Textual.

Its subpackages follow the data flow, each importing only those before it (docs/design.md §2):
definitions → bookkeeping → plan → privileges → run → repair → upgrade. The modules at this level
(connection, errors, events, locks, safetext, embedded, userdirs) serve them all."""
