"""Proof under faults: crash, server, concurrency, bad-input and security tests (issue 6).

`python -m tests.faults --trials 500 --seed S` runs the crash-at-any-instant harness at full size
(see tests/faults/__main__.py); the pytest modules here run it (and the rest) at CI size.
"""
