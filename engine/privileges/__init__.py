"""Privileged steps (docs/design.md §8): what the connected role can do, the bundle for a DBA,
verifying and recording what the DBA did, and which recorded grants a run may use."""
