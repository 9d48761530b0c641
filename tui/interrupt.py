"""The line Ctrl-C ends a command with (exit 130): what this process had actually set going.

The command line's event renderers (tui.render) show `ACTIVITY` every event; `message()` turns
what it saw into the sentence. A migration runs in one transaction, so the one in flight is rolled
back when its session ends; a concurrent index build is not, and says so. Pipelined, the events
may lag the server by a migration: the runner's closing word (RunInterrupted, its unanswered
COMMIT read back from the database) overrides what they said.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pgferry.engine.safetext import printable

if TYPE_CHECKING:  # imported by the first event: every command loads this module, few run migrations
    from pgferry.engine import events as ev

AGAIN = "; run the command again to continue"


def _label(schema: str, migration_id: int, name: str, up: bool) -> str:
    return f"{'' if up else 'reverting '}{schema} {migration_id} {printable(name, one_line=True)}"


def _started(e: ev.MigrationStarted) -> str:
    return _label(e.schema, e.migration_id, e.name, e.up)


class Activity:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.in_flight: dict[tuple[str, int], ev.MigrationStarted] = {}
        self.finished = 0
        self.oob: ev.OobStarted | None = None
        self.unknown: list[str] = []  # labels of migrations that may have committed: nobody could check

    def __call__(self, e) -> None:
        from pgferry.engine import events as ev

        if isinstance(e, ev.MigrationStarted):
            self.in_flight[(e.schema, e.migration_id)] = e
        elif isinstance(e, (ev.MigrationFinished, ev.MigrationFailedEvent)):
            started = self.in_flight.pop((e.schema, e.migration_id), None)
            self.finished += started is not None and isinstance(e, ev.MigrationFinished)
        elif isinstance(e, ev.RunInterrupted):
            self._settle(e)
        elif isinstance(e, ev.OobStarted):
            self.oob = e
        elif isinstance(e, (ev.OobFinished, ev.OobPaused)):
            self.oob = None

    def _settle(self, e: ev.RunInterrupted) -> None:
        from pgferry.engine import events as ev

        for key in [k for k in self.in_flight if k[0] == e.schema]:  # the runner's word replaces the events'
            del self.in_flight[key]
            self.finished += any(m[0] == key[1] for m in e.committed)
        for migration_id, name, up in e.rolled_back:
            self.in_flight[(e.schema, migration_id)] = ev.MigrationStarted(e.schema, migration_id, name, up, 0, 0)
        self.unknown += [_label(e.schema, *m) for m in e.unknown]

    def message(self) -> str:
        kept = f"; the {self.finished} migration(s) finished before it are kept" if self.finished else ""
        running = list(self.in_flight.values())
        building = [e for e in running if e.concurrent_index]
        if self.unknown:
            return (f"interrupted: whether {', '.join(self.unknown)} committed is unknown (its COMMIT had been sent "
                    f"and the database could not be asked); `pgferry status` tells{kept}{AGAIN}")
        if building:
            return (f"interrupted: the concurrent index build of {_started(building[0])} did not finish and may leave an "
                    f"invalid index, which the next run rebuilds{kept}{AGAIN}")
        if running:
            names = ", ".join(_started(e) for e in running)
            return f"interrupted: {names} had not committed and was rolled back{kept}{AGAIN}"
        if self.oob is not None:
            return (f"interrupted: the current batch of out-of-band migration {self.oob.migration_id} was rolled back; "
                    f"the batches before it are kept{AGAIN}")
        if self.finished:
            return f"interrupted between migrations: the {self.finished} finished are kept, none was left half-done{AGAIN}"
        return "interrupted: no migration had started; nothing was migrated"


ACTIVITY = Activity()
