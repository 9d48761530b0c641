"""Applied migrations whose up.sql changed after they ran, and an operator accepting the new text.

Every row of SQL a run ran records its checksum and, from LOG_SCHEMA_VERSION 2 on, the checksum of
its tokens (`SqlScript.token_checksum`). An applied migration's latest successful up row is the
one that counts: a file whose checksum differs from it changed since. When the token checksums
agree only whitespace, comments or the case of keywords changed: cosmetic, reported and never in
the way. A row without a token checksum (an older pgferry ran it) cannot tell the two apart, so its
change counts as real. A backfilled row records no checksum: nothing to compare.

Accepting a changed definition writes one more success row for the migration (manual, with who and
why) recording the new checksums: it becomes the latest, so later runs find nothing changed, and
the bookkeeping stays the one record of what counts as applied.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import psycopg
from psycopg import sql

from pgferry import __version__

from ..connection import Connections, connect, describe_target
from ..definitions.catalog import Definitions
from ..definitions.graph import SchemaGraph
from ..errors import DriftFound, UsageError
from ..locks import AdvisoryLock, lock_key
from ..safetext import printable
from .bookkeeping import LOG_SCHEMA_VERSION, MigrationLog

CHANGED, COSMETIC = "changed", "cosmetic"

# The latest successful up row of each migration: what an applied migration ran as.
RECORDED_SQL = """
SELECT DISTINCT ON (schema, version) schema, version, sql_checksum, {tokens}
FROM {table} WHERE schema = ANY(%s) AND up AND success
ORDER BY schema, version, id DESC
"""


@dataclass(frozen=True)
class ChangedMigration:
    """An applied migration whose up.sql is not the text that ran."""

    schema: str
    database: str
    id: int
    name: str
    path: str  # its up.sql
    kind: str  # CHANGED or COSMETIC
    checksum: str  # the file's, now
    token_checksum: str | None
    comparable: bool = True  # False: the run recorded no token checksum, so cosmetic was not an option

    @property
    def blocks(self) -> bool:
        return self.kind == CHANGED

    def describe(self) -> str:
        # names and paths come from the definitions: shown, never acted on by a terminal
        head = printable(f"{self.schema} {self.id} ({self.name}): {self.path} changed since it was applied", one_line=True)
        if self.kind == COSMETIC:
            return head + ", in whitespace, comments or keyword case only (cosmetic: nothing is in the way)"
        if not self.comparable:
            return head + " (it ran under a pgferry that recorded no token checksum: a cosmetic change cannot " \
                          "be told from a real one)"
        return head

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "file": self.path, "kind": self.kind, "comparable": self.comparable}


class ChangedSinceApplied(DriftFound):
    """Applied migrations whose files changed since they ran (exit 5): the run would go on from a
    database that is not what its definitions say."""

    def __init__(self, changes: Sequence[ChangedMigration]):
        refs = " ".join(f"--accept-changed {reference(c, changes)}" for c in changes)
        super().__init__(
            f"{len(changes)} applied migration(s) changed since they ran: "
            f"{'; '.join(c.describe() for c in changes)}. Nothing was changed.",
            hint=f"restore each file as it was when it ran, or accept the new text: {refs} --reason TEXT "
                 "(recorded in migration_logs with your name)")
        self.changes = tuple(changes)


def reference(c: ChangedMigration, among: Iterable[ChangedMigration]) -> str:
    """How --accept-changed names `c`: its id, or SCHEMA:ID when another schema's change has that id."""
    return f"{c.schema}:{c.id}" if any(o.id == c.id and o.schema != c.schema for o in among) else str(c.id)


def changed_since_applied(log: MigrationLog, graph: SchemaGraph, applied: Iterable[int],
                          database: str) -> tuple[ChangedMigration, ...]:
    """The applied migrations of one schema whose up.sql differs from what ran."""
    return changed_in(log, {graph.name: (graph, applied)}, database)


def changed_in(log: MigrationLog, applied: Mapping[str, tuple[SchemaGraph, Iterable[int]]], database: str, *,
               tokens_recorded: bool | None = None) -> tuple[ChangedMigration, ...]:
    """`changed_since_applied` of several schemas of one database, `applied` giving each one's graph
    and applied set: one query, and one more to ask whether the table has token checksums unless
    `tokens_recorded` says (a table an older pgferry made has none)."""
    wanted = {name: (graph, set(ids)) for name, (graph, ids) in applied.items() if ids}
    if not wanted:
        return ()
    if tokens_recorded is None:
        tokens_recorded = "sql_token_checksum" not in log.missing_columns()
    tokens = "sql_token_checksum" if tokens_recorded else "NULL"
    rows = log.conn.execute(sql.SQL(RECORDED_SQL).format(tokens=sql.SQL(tokens), table=log.table),
                            [list(wanted)]).fetchall()
    out = []
    for schema, version, recorded, recorded_tokens in rows:
        graph, ids = wanted[schema]
        m = graph.migrations.get(version)
        if m is None or version not in ids or recorded is None or recorded == m.up.checksum:
            continue
        cosmetic = recorded_tokens is not None and recorded_tokens == m.up.token_checksum
        out.append(ChangedMigration(schema, database, version, m.name, m.up.path, COSMETIC if cosmetic else CHANGED,
                                    m.up.checksum, m.up.token_checksum, comparable=recorded_tokens is not None))
    order = list(wanted)
    return tuple(sorted(out, key=lambda c: (order.index(c.schema), c.id)))


def find_changed(defs: Definitions, dsns: Mapping[str, str], bookkeeping_schema: str = "public",
                 schemas: Iterable[str] | None = None) -> tuple[ChangedMigration, ...]:
    """Every changed applied migration of the selected schemas (read-only: creates nothing)."""
    out: list[ChangedMigration] = []
    for name in schemas or defs.schemas:
        with connect(dsns[name], role="status") as conn:
            log = MigrationLog(conn, bookkeeping_schema)
            if log.exists():
                out += changed_since_applied(log, defs.schema(name), log.state(name).applied,
                                             describe_target(dsns[name]))
    return tuple(out)


def pick_accepted(changes: Sequence[ChangedMigration], wanted: Sequence[str],
                  note: Callable[[str], None]) -> tuple[ChangedMigration, ...]:
    """The changes --accept-changed names (ID, or SCHEMA:ID). An id naming no change is only noted:
    accepted by an earlier run, say, which the same command repeated after a crash finds done."""
    out: list[ChangedMigration] = []
    for value in wanted:
        schema, _, raw = value.rpartition(":")
        try:
            version = int(raw)
        except ValueError:
            raise UsageError(f"--accept-changed expects a migration id or SCHEMA:ID, got {value!r}") from None
        found = [c for c in changes if c.id == version and schema in ("", c.schema)]
        if len(found) > 1:
            raise UsageError(f"--accept-changed {value}: {len(found)} schemas have a changed migration {version}",
                             hint="name one: " + ", ".join(f"--accept-changed {c.schema}:{c.id}" for c in found))
        if not found:
            note(f"--accept-changed {value}: no applied migration of that id has changed: nothing to accept")
        out += [c for c in found if c not in out]
    return tuple(out)


def refuse_unaccepted(changes: Sequence[ChangedMigration], accepted: Sequence[ChangedMigration]) -> None:
    blocking = [c for c in changes if c.blocks and c not in accepted]
    if blocking:
        raise ChangedSinceApplied(blocking)


def record_accepted(defs: Definitions, dsns: Mapping[str, str], accepted: Sequence[ChangedMigration], operator: str,
                    reason: str, bookkeeping_schema: str = "public", lock_wait: float | None = None) -> None:
    """Record each accepted definition as the one applied, holding its schema's migration lock. What
    another migrator changed meanwhile (reverted it, accepted it) is looked at again under the lock."""
    for schema in dict.fromkeys(c.schema for c in accepted):
        with connect(dsns[schema], role="accept") as conn:
            log = MigrationLog(conn, bookkeeping_schema)
            if log.missing_columns():  # a table an older pgferry made has no sql_token_checksum yet
                with AdvisoryLock(conn, lock_key(bookkeeping_schema, "bookkeeping"), "bookkeeping", timeout=lock_wait):
                    log.ensure()
            with AdvisoryLock(conn, lock_key(bookkeeping_schema, schema), schema, timeout=lock_wait):
                now = changed_since_applied(log, defs.schemas[schema], log.state(schema).applied,
                                            describe_target(dsns[schema]))
                with conn.transaction():
                    for c in (c for c in accepted if c in now):
                        _insert_acceptance(conn, log, c, operator, reason)


def _insert_acceptance(conn: psycopg.Connection, log: MigrationLog, c: ChangedMigration, operator: str,
                       reason: str) -> None:
    # error_message is migration_logs' one free-text column; recover's forced marks keep their reason there too.
    conn.execute(sql.SQL(
        "INSERT INTO {} (migration_logs_schema_version, schema, version, up, started_at, finished_at, success, "
        "backend_pid, host, pgferry_version, sql_checksum, sql_token_checksum, manual, confirmed_by, error_message) "
        "VALUES (%s, %s, %s, true, now(), clock_timestamp(), true, pg_backend_pid(), %s, %s, %s, %s, true, %s, %s)"
    ).format(log.table), [LOG_SCHEMA_VERSION, c.schema, c.id, log.host, __version__, c.checksum, c.token_checksum,
                          operator, f"changed definition accepted: {reason}"])


def check_changed(defs: Definitions, conns: Connections, accept: Sequence[str] = (), schemas: Sequence[str] | None = None,
                  *, note: Callable[[str], None]) -> tuple[ChangedMigration, ...]:
    """Refuse to run over applied migrations whose up.sql changed since they ran (exit 5), unless
    `accept` names each (--accept-changed); a cosmetic change is only noted. Returns the accepted
    changes, for `record_accepted` once the run is confirmed."""
    changes = find_changed(defs, dict(conns.dsns), conns.bookkeeping_schema, schemas)
    accepted = pick_accepted(changes, accept, note)
    refuse_unaccepted(changes, accepted)
    for c in changes:
        if not c.blocks and c not in accepted:
            note(c.describe())
    return accepted
