"""Whether a run would have anything to do: `pgferry up` with nothing pending, as an init container
runs it at every start, answered in one session per database.

The migrator answers the same question after its own checks, each of which would stop or change
the run: a writable primary (`ensure_writable`), bookkeeping tables with every column (else it
extends them), no applied migration changed since it ran (else the run refuses, or notes a cosmetic
change), and no step to take. Read here without its lock, that answer is one the migrator could have
given a moment earlier: a step another migrator is taking shows as pending until it commits. Any
doubt answers False, and the caller runs the migrator, which decides as always.
"""
from __future__ import annotations

from typing import Callable, Mapping

from ..connection import Sessions, describe_target, ensure_writable
from ..definitions.catalog import Definitions
from ..errors import ReadOnlyDatabase
from .bookkeeping import MigrationLog
from .changed import changed_in

Plan = Callable[[frozenset[int]], list]  # the applied set -> the steps to take (a SchemaGraph's up/down)


def nothing_to_run(defs: Definitions, dsns: Mapping[str, str], plans: Mapping[str, Plan],
                   bookkeeping_schema: str = "public") -> bool:
    """True when every schema of `plans` has applied migrations and no step to take, its database
    is writable with complete bookkeeping, and no applied migration's file changed. Reads only."""
    with Sessions("migrator") as session:
        for dsn in dict.fromkeys(dsns[name] for name in plans):
            here = [name for name in plans if dsns[name] == dsn]
            try:
                ensure_writable(session(dsn), dsn)
            except ReadOnlyDatabase:
                return False  # the migrator says why
            log = MigrationLog(session(dsn), bookkeeping_schema)
            if log.missing_columns():
                return False  # no table yet, or one an older pgferry made: the migrator extends it
            states = log.states(here)
            if any(not states[n].applied or plans[n](states[n].applied) for n in here):
                return False
            if changed_in(log, {n: (defs.schemas[n], states[n].applied) for n in here}, describe_target(dsn),
                          tokens_recorded=True):
                return False
    return True
