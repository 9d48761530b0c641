"""Applying and reverting one schema's migrations in one database (docs/design.md §7).

The seven rules, and where they live:
1. a transactional migration writes its success row in its own transaction (transactional.py);
2. only CREATE INDEX CONCURRENTLY commits an attempt row first, and the index's catalog
   state settles an interrupted attempt (concurrent.py);
3. one migrator per schema, by polling a session advisory lock released during CIC (`locks.py`);
4. a pending row whose backend is gone is stale, not dirty (`MigrationLog.state`);
5. DDL runs under lock_timeout with retries and backoff, blockers reported (`Monitor`);
6. statements are sent one by one (pipelined, never joined), so progress and errors point at a file line;
7. a failure carries SQLSTATE, message, detail, hint and the line.
"""
from __future__ import annotations

import time
from typing import Callable

import psycopg

from ..bookkeeping.bookkeeping import SchemaState
from ..connection import describe_target, is_connection_loss
from ..definitions.graph import Step
from ..events import Retrying, RunFinished, RunStarted, WaitingForBuild
from ..locks import LockWaitTimeout
from .concurrent import INDEX_STATE_SQL, ConcurrentIndexBuild, cic_index
from .monitor import Monitor, index_progress, timing_for
from .privileged import PrivilegedSteps
from .session import RunOptions, RunResult
from .transactional import TransactionalSteps

# What callers import from here, wherever it is defined in engine/run/.
__all__ = ["INDEX_STATE_SQL", "Migrator", "RunOptions", "RunResult", "cic_index"]


class Migrator(TransactionalSteps, ConcurrentIndexBuild, PrivilegedSteps):
    """Runs steps for one schema against one database. Use as a context manager."""

    def run(self, compute: Callable[[frozenset[int]], list[Step]]) -> RunResult:
        """Take the lock, then apply `compute(applied)` step by step, recomputing after CIC."""
        start = time.monotonic()
        result = RunResult(self.graph.name)
        self.ensure_bookkeeping()
        # Timed to the lock timeout: blockers are visible only while a statement still waits.
        self.monitor = Monitor(self.dsn, self.on_event, **timing_for(self.options.lock_timeout))
        try:
            self._run_steps(compute, result)
        except psycopg.Error as exc:
            if not is_connection_loss(exc):
                raise
            raise self._lost(exc, f"while migrating {self.graph.name}",
                             "Nothing half-done is recorded; run the same command again to continue.") from None
        finally:
            if not self.conn.closed and not self.conn.broken:
                try:
                    self.lock.release()
                except psycopg.Error:
                    pass  # the session (and with it the lock) is gone
            self.monitor.close()
            self.monitor = None
        result.seconds = time.monotonic() - start
        self.on_event(RunFinished(self.graph.name, len(result.applied), len(result.reverted), result.seconds))
        return result

    def _run_steps(self, compute: Callable[[frozenset[int]], list[Step]], result: RunResult) -> None:
        self.lock.acquire()
        announced = False
        while True:
            state = self.state()
            steps = compute(state.applied)
            if not announced:
                self.on_event(RunStarted(self.graph.name, len(steps), describe_target(self.dsn)))
                announced = True
            if not steps:
                break
            if state.in_progress:
                self._wait_for_others(state)
                continue
            total = len(result.applied) + len(result.reverted) + len(steps)
            granted = self._usable_grants(steps)
            batch: list[Step] = []  # consecutive transactional steps, applied pipelined
            for step in steps:
                if step.up and step.migration.create_index_concurrently or \
                        step.migration.privileged and (self.options.privileged_dsn or (step.id, step.up) in granted):
                    self._run_transactional(batch, result, total, state.failed)
                    batch = []
                    done = len(result.applied) + len(result.reverted)
                    if step.id in state.failed:
                        self.on_event(Retrying(step.schema, step.id, state.failed[step.id].error_message or ""))
                    if step.up and step.migration.create_index_concurrently:
                        self._run_concurrent_index(step, done + 1, total, state)
                        result.applied.append(step.id)
                        break  # the lock was released meanwhile: re-read the state
                    self._run_privileged_elsewhere(step, done + 1, total, granted.get((step.id, step.up)))
                    (result.applied if step.up else result.reverted).append(step.id)
                else:
                    batch.append(step)
            else:
                self._run_transactional(batch, result, total, state.failed)
                continue

    def _usable_grants(self, steps: list[Step]) -> dict:
        """The open grants of the privileged steps. The privileges module (and the planner it
        builds on) is loaded only for a run that has some: most runs have none."""
        if not any(s.migration.privileged for s in steps):
            return {}
        from ..privileges.privileges import usable_grants

        return usable_grants(self.conn, self.options.bookkeeping_schema, self.graph.name, steps)

    def _wait_for_others(self, state: SchemaState) -> None:
        """A live backend is mid-way through a CIC of this schema: let it finish.

        Bounded by `lock_wait` like waiting for the lock itself: the other migrator holds this
        schema just as surely while its build runs without the lock.
        """
        self.lock.release()
        start = time.monotonic()
        while True:
            state = self.state()
            if not state.in_progress:
                break
            self._give_up_after(start, "the index build of another migrator", state.in_progress.values())
            for version, attempt in state.in_progress.items():
                step = Step(self.graph.migrations[version]) if version in self.graph.migrations else None
                name = cic_index(step)[0] if step and step.migration.create_index_concurrently else "?"
                self.on_event(WaitingForBuild(self.graph.name, version, name, attempt.backend_pid or 0))
                if attempt.backend_pid:
                    p = index_progress(self.conn, attempt.backend_pid, self.graph.name, version, name)
                    if p:
                        self.on_event(p)
            time.sleep(max(self.options.poll, 0.5))
        self.lock.acquire()

    def _give_up_after(self, start: float, what: str, attempts) -> None:
        waited = time.monotonic() - start
        if self.options.lock_wait is None or waited < self.options.lock_wait:
            return
        who = "; ".join(f"{a.schema} {a.version} by backend {a.backend_pid} on {a.host or '?'} since "
                        f"{a.started_at:%H:%M:%S}" for a in attempts)
        raise LockWaitTimeout(f"gave up after {waited:.0f}s waiting for {what} ({who})",
                              hint="wait for it to finish (pgferry watch), or raise --lock-wait")
