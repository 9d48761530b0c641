"""Adopting a database pgferry never ran on (issue 15 §2): record a release it already has.

A restored dump, or a database another tool built, holds the product's objects but no
bookkeeping: planned from that, every migration looks pending. `prepare_adoption` compares each
database with release V's expected shape (the shipped one or a replayed one, as drift does) and
measures the out-of-band migrations V has reached; it reads only. `adopt` then records V's
applied set (every ancestor of its leaves, squashes and what they replace alike) as backfilled
rows confirmed by the operator, one transaction per database, holding the schemas' migration
locks and re-checking under them that nothing was recorded meanwhile.

Out-of-band migrations: an upgrade plans from progress measured with progress.sql, never from the
recorded figure, so what adoption records is for `oob status` and the history. One that V has
reached gets its row with the measured progress. One that V is past the deprecation of must be
complete at V (later migrations rely on its data): adoption records it complete only when
progress.sql says 1.0, and refuses otherwise, as it does for a shape difference.
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable, Mapping

from ..bookkeeping.bookkeeping import MigrationLog
from ..connection import connect, describe_target, ensure_writable
from ..definitions.catalog import Definitions
from ..definitions.outofband import OutOfBand
from ..errors import PgferryError, UsageError
from ..locks import AdvisoryLock, lock_key
from ..run.background import OutOfBandStore
from ..run.oobstate import lifetime_position
from ..run.progress import measure
from .describe import describe
from .differences import Difference, compare, fix_script
from .drift import IgnoreRule, split_ignored
from .expected import load_expected, merge
from .unrecorded import find_unrecorded, recorded

LOCK_WAIT = 30.0  # seconds adoption waits for a migrator of the same schema before giving up


class AlreadyRecorded(UsageError):
    """Adoption is for a database with no bookkeeping: exit 2 (the wrong command, not drift)."""


@dataclass(frozen=True)
class OobAdoption:
    oob: OutOfBand
    progress: float
    measured: bool
    reason: str
    required_complete: bool  # the release is at or past its deprecation

    @property
    def blocks(self) -> bool:
        return self.required_complete and not (self.measured and self.progress >= 1)

    @property
    def problem(self) -> str | None:
        if not self.blocks:
            return None
        o = self.oob
        return (f"out-of-band {o.id} ({o.description}) must be complete at this release (deprecated in "
                f"{o.deprecated}), but {self.reason if not self.measured else f'progress.sql says {self.progress:.1%}'}")

    def as_dict(self) -> dict:
        return {"id": self.oob.id, "schema": self.oob.schema, "progress": self.progress, "measured": self.measured,
                "reason": self.reason, "required_complete": self.required_complete, "blocks": self.blocks}


@dataclass
class DatabaseAdoption:
    database: str  # user@host/db, never a password
    dsn: str  # kept for recording; never shown
    schemas: list[str]  # every schema of the definitions living here
    record: dict[str, tuple[int, ...]] = field(default_factory=dict)  # schema -> ids to record as backfilled
    differences: list[Difference] = field(default_factory=list)
    ignored: list[tuple[Difference, IgnoreRule]] = field(default_factory=list)
    out_of_band: list[OobAdoption] = field(default_factory=list)
    hint: str | None = None  # what to do about the differences, when more than the fix SQL

    @property
    def matches(self) -> bool:
        return not self.differences and not any(o.blocks for o in self.out_of_band)

    def as_dict(self) -> dict:
        return {"database": self.database, "schemas": self.schemas, "matches": self.matches,
                "record": {s: list(ids) for s, ids in self.record.items()},
                "out_of_band": [o.as_dict() for o in self.out_of_band],
                "differences": [d.as_dict() for d in self.differences], "fix": fix_script(self.differences),
                "ignored": [{**d.as_dict(), "reason": r.reason, "pattern": r.pattern, "rule": r.source}
                            for d, r in self.ignored], "hint": self.hint}


@dataclass
class Adoption:
    release: str
    operator: str
    databases: list[DatabaseAdoption]
    bookkeeping_schema: str = "public"
    adopted: bool = False

    @property
    def matches(self) -> bool:
        return all(d.matches for d in self.databases)

    @property
    def migrations(self) -> int:
        return sum(len(ids) for d in self.databases for ids in d.record.values())

    def as_dict(self) -> dict:
        return {"release": self.release, "operator": self.operator, "matches": self.matches, "adopted": self.adopted,
                "migrations": self.migrations, "bookkeeping_schema": self.bookkeeping_schema,
                "databases": [d.as_dict() for d in self.databases]}


def prepare_adoption(defs: Definitions, dsns: Mapping[str, str], version: str, *, operator: str,
                     bookkeeping_schema: str = "public", rules: list[IgnoreRule] = (), pg_schema: str = "public",
                     load: Callable[[Definitions, str], dict] | None = None) -> Adoption:
    """Compare every database of the product with release `version`; changes nothing. Raises
    AlreadyRecorded when a database already records any migration of its schemas."""
    release = defs.release(version)
    databases = []
    for dsn in dict.fromkeys(dsns[s] for s in defs.schemas):
        here = [s for s in defs.schemas if dsns[s] == dsn]
        with connect(dsn, role="adopt") as conn:
            _refuse_recorded(conn, defs, here, bookkeeping_schema, pg_schema, dsn)
            databases.append(DatabaseAdoption(describe_target(dsn), dsn, here))
    shapes = (load or load_expected)(defs, release.version)  # after the cheap refusals: it may replay
    for db in databases:
        ours = [s for s in db.schemas if s in shapes]
        db.record = {s: tuple(sorted(defs.required(release, s))) for s in ours}
        with connect(db.dsn, role="adopt") as conn:
            diffs = compare(merge(shapes[s] for s in ours), describe(conn, pg_schema))
            db.differences, db.ignored = split_ignored(diffs, list(rules))
            db.out_of_band = _measure_oobs(conn, defs, release, ours)
            if db.differences and find_unrecorded(conn, defs, db.schemas, bookkeeping_schema, pg_schema) is None:
                db.hint = "it holds none of the product's tables: install it with `pgferry upgrade` instead"
    return Adoption(release.version, operator, databases, bookkeeping_schema)


def _refuse_recorded(conn, defs, here, bookkeeping_schema, pg_schema, dsn) -> None:
    where = describe_target(dsn)
    if recorded(conn, bookkeeping_schema, here):
        raise AlreadyRecorded(
            f"{where} already records migrations of {', '.join(here)} in {bookkeeping_schema}.migration_logs: "
            "adoption is for a database pgferry has never run on. Nothing was recorded.",
            hint="`pgferry status` shows its release; `pgferry drift` compares it with that release's shape")
    found = find_unrecorded(conn, defs, here, bookkeeping_schema, pg_schema)
    if found is not None and found.elsewhere:
        raise AlreadyRecorded(f"{where}: {found.message}. Nothing was recorded.", hint=found.hint)


def _measure_oobs(conn, defs: Definitions, release, schemas: list[str]) -> list[OobAdoption]:
    out = []
    for o in (o for _, o in sorted(defs.out_of_band.items()) if o.schema in schemas):
        reached, past = lifetime_position(defs, o, release)
        if reached:
            progress, measured, reason = measure(conn, o)
            out.append(OobAdoption(o, progress, measured, reason, past))
    return out


def adopt(defs: Definitions, adoption: Adoption, *, lock_wait: float | None = LOCK_WAIT) -> Adoption:
    """Record what `prepare_adoption` found, database by database (each in one transaction).
    Refuses, recording nothing anywhere, unless every database matched."""
    if not adoption.matches:
        raise UsageError("the databases differ from the release: nothing was recorded",
                         hint="apply the fix SQL (or an ignore file), then adopt again")
    for db in adoption.databases:
        _record(defs, db, adoption.release, adoption.operator, adoption.bookkeeping_schema, lock_wait)
    adoption.adopted = True
    return adoption


def _record(defs: Definitions, db: DatabaseAdoption, version: str, operator: str, bk: str,
            lock_wait: float | None) -> None:
    with connect(db.dsn, role="adopt") as conn:
        ensure_writable(conn, db.dsn)
        log = MigrationLog(conn, bk)
        with AdvisoryLock(conn, lock_key(bk, "bookkeeping"), "bookkeeping", timeout=lock_wait):
            log.ensure()
        store = OutOfBandStore(conn, bk)
        if db.out_of_band:
            store.ensure()
        with ExitStack() as locks:
            for s in db.schemas:
                locks.enter_context(AdvisoryLock(conn, lock_key(bk, s), s, timeout=lock_wait))
            if recorded(conn, bk, db.schemas):  # a migrator got there between the comparison and the lock
                raise PgferryError(f"{db.database} recorded migrations of {', '.join(db.schemas)} meanwhile "
                                   f"(another migrator?): nothing was recorded there", hint="`pgferry status`")
            with conn.transaction():
                for schema, ids in db.record.items():
                    log.record_backfilled(schema, ids, operator, f"adopted at release {version} by {operator}")
                for o in db.out_of_band:
                    store.sync(o.oob)
                    store.update(o.oob.id, progress=o.progress, batch_size=o.oob.batch_size, rows=0, rate=None,
                                 reverse=False, finished=o.progress >= 1)
