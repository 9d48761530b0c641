"""Benchmarks (docs/design.md §14): `python -m bench --help`. Not tests: pytest never collects them (testpaths = tests).

Kept import-light on purpose: the cold-load child process (`bench._load_child`) imports
this package first, and must not pay for rich or the engine before it starts its clock.
"""
