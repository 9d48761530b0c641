"""Benchmarks (docs/design.md §14): `python -m tests.bench --help`. Not collected by pytest.

Kept import-light on purpose: the cold-load child process (`tests.bench._load_child`) imports
this package first, and must not pay for rich or the engine before it starts its clock.
"""
