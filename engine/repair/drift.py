"""Drift (docs/design.md §10): each database compared with the expected shape of its release.

`check` reads a database's applied migrations to know which release to expect, then lists the
differences (`differences.py`) that no ignore rule explains. A database holding the product with
nothing recorded (`unrecorded.py`) is drift too, and `refuse_unrecorded` stops a run over it.
"""
from __future__ import annotations

import fnmatch
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import psycopg

from ..errors import DriftFound
from .differences import Difference, compare
from .unrecorded import Unrecorded, find_unrecorded


# -- the ignore list -------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    reason: str
    source: str  # file:line, so a report says which rule hid a difference

    def matches(self, diff: Difference) -> bool:
        return fnmatch.fnmatchcase(diff.key, self.pattern)


def _granted_ahead(conn: psycopg.Connection, bookkeeping_schema: str, defs, schemas: Iterable[str]) -> list:
    """Extensions a DBA created (or dropped) ahead of the database's release, for granted steps no
    run has reached yet: expected differences, shown as ignored with the grant as the reason."""
    from glob import escape

    from ..bookkeeping.grantlog import TABLE, GrantLog
    from ..privileges.privileges import ext_name

    rules = []
    log = GrantLog(conn, bookkeeping_schema)
    for schema in schemas:
        migrations = defs.schemas[schema].migrations
        for g in log.open(schema):
            m = migrations.get(g.version)
            script = (m.up if g.up else m.down) if m else None
            for name in filter(None, (ext_name(st.node) for st in script.statements if st.privileged) if script else ()):
                rules.append(IgnoreRule(f"extension:{escape(name)}", f"granted ahead: {schema} {g.version} "
                                        f"({g.confirmed_by}); recorded applied when the upgrade reaches it", TABLE))
    return rules


def load_ignore(path: str | Path) -> list[IgnoreRule]:
    """`- pattern: "index:*_tmp"` / `reason: ...` entries, at the top level or under `ignore:`."""
    from ..errors import UsageError
    from ..definitions.yamlfile import YamlError, load_yaml

    path = Path(path)
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read ignore file {path}: {exc.strerror}") from None
    except YamlError as exc:
        raise UsageError(f"{path}:{exc.line}: {exc.message}") from None
    data, prefix = doc.data, ()
    if isinstance(data, dict) and "ignore" in data:
        data, prefix = data["ignore"], ("ignore",)
    if data is None:
        return []
    if not isinstance(data, list):
        raise UsageError(f"{path}: expected a list of `- pattern: ...` / `reason: ...` entries")
    rules = []
    for i, item in enumerate(data):
        line = doc.line(*prefix, i)
        if not isinstance(item, dict) or not isinstance(item.get("pattern"), str) or not str(item.get("reason") or "").strip():
            raise UsageError(f"{path}:{line}: each entry needs a `pattern` (kind:object, shell wildcards) and a `reason`",
                             hint='e.g. - pattern: "index:*_tmp"\n        reason: temporary indexes of the nightly job')
        rules.append(IgnoreRule(item["pattern"], str(item["reason"]).strip(), f"{path.name}:{line}"))
    return rules


def default_ignore(defs) -> list[IgnoreRule]:
    """The rules of <migrations>/drift-ignore.yaml, shipped with the definitions (none without one)."""
    path = Path(defs.root) / "drift-ignore.yaml"
    return load_ignore(path) if path.is_file() else []


def split_ignored(diffs: list[Difference], rules: list[IgnoreRule]) -> tuple[list[Difference], list[tuple[Difference, IgnoreRule]]]:
    kept, ignored = [], []
    for d in diffs:
        rule = next((r for r in rules if r.matches(d)), None)
        if rule is None:
            kept.append(d)
        else:
            ignored.append((d, rule))
    return kept, ignored


# -- a live database against its release -----------------------------------------------------


@dataclass
class DatabaseDrift:
    database: str  # user@host/db, never a password
    schemas: list[str]  # the schemas compared: those with migrations applied here
    versions: dict[str, str]
    differences: list[Difference] = field(default_factory=list)
    ignored: list[tuple[Difference, IgnoreRule]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exempt: list[str] = field(default_factory=list)  # schemas with nothing applied here
    # Some schema is between releases or has an attempt running: a migrator is (or was) at work,
    # so differences may be its half-way state rather than drift.
    busy: bool = False
    # Nothing recorded, yet the product's tables are there: not "nothing to compare".
    unrecorded: Unrecorded | None = None

    @property
    def drifted(self) -> bool:
        return bool(self.differences) or self.unrecorded is not None

    @property
    def version(self) -> str | None:
        distinct = set(self.versions.values())
        if len(distinct) <= 1:
            return next(iter(distinct), None)
        return ", ".join(f"{s} {v}" for s, v in self.versions.items())

    def as_dict(self) -> dict:
        return {"database": self.database, "schemas": self.schemas, "version": self.version,
                "versions": self.versions, "exempt": self.exempt, "warnings": self.warnings,
                "unrecorded": self.unrecorded.as_dict() if self.unrecorded else None,
                "differences": [d.as_dict() for d in self.differences],
                "ignored": [{**d.as_dict(), "reason": r.reason, "pattern": r.pattern, "rule": r.source}
                            for d, r in self.ignored]}


def check(defs, dsns: Mapping[str, str], *, bookkeeping_schema: str = "public", schemas: list[str] | None = None,
          version: str | None = None, rules: list[IgnoreRule] = (), pg_schema: str = "public",
          load=None) -> list[DatabaseDrift]:
    """Compare each database holding a selected schema with the expected shape of its release.

    A database's expected shape is the merge of the shapes of every schema applied in it, each
    at its own version (derived from migration_logs unless `version` says otherwise).
    """
    from ..bookkeeping.bookkeeping import MigrationLog
    from ..connection import connect, describe_target
    from .expected import load_expected, merge
    from ..bookkeeping.status import schema_version

    load = load or load_expected
    cache: dict[str, dict] = {}
    wanted = schemas or list(defs.schemas)
    for name in wanted:
        defs.schema(name)
    out = []
    for dsn in dict.fromkeys(dsns[s] for s in wanted):
        here = [s for s in defs.schemas if dsns[s] == dsn]  # every schema sharing the database
        report = DatabaseDrift(describe_target(dsn), [], {})
        with connect(dsn, role="drift") as conn, _snapshot(conn):
            shapes = []
            seen = {}
            for s in here:
                state = MigrationLog(conn, bookkeeping_schema).state(s)
                seen[s] = _position(state)
                if not state.applied:
                    report.exempt.append(s)
                    continue
                report.warnings += _state_warnings(s, state)
                v = defs.release(version).version if version else schema_version(defs, s, state.applied)
                if v is None:
                    report.warnings.append(f"{s}: its applied migrations match no release; its objects show as "
                                           "unexpected (pass --version to compare with a release)")
                    continue
                if v not in cache:
                    cache[v] = load(defs, v)
                if s not in cache[v]:
                    report.warnings.append(f"{s}: release {v} does not have this schema; its objects show as unexpected")
                    continue
                beyond = _beyond(defs, s, v, state.applied)
                report.warnings += beyond
                report.busy = report.busy or bool(beyond or state.in_progress)
                report.schemas.append(s)
                report.versions[s] = v
                shapes.append(cache[v][s])
            live = _describe_live(conn, pg_schema) if shapes else None
            if live is None and shapes:
                report.busy = True
                report.warnings.append("the catalog changed while it was read (a migrator is at work): "
                                       "not compared; check again once it is done")
            elif shapes:
                diffs = compare(merge(shapes), live)
                granted = _granted_ahead(conn, bookkeeping_schema, defs, report.schemas)
                report.differences, report.ignored = split_ignored(diffs, [*rules, *granted])
                _check_duplicates(conn, report.differences)
            elif report.exempt == here:
                report.unrecorded = find_unrecorded(conn, defs, here, bookkeeping_schema, pg_schema)
        if report.differences and not report.busy:
            report.busy = _moved_since(dsn, bookkeeping_schema, seen)
        out.append(report)
    return out


def _describe_live(conn, pg_schema: str) -> dict | None:
    """The live shape, None when an object vanished while it was read: pg_get_indexdef and friends
    read the live catalog, not the snapshot, and fail ("cache lookup failed") on what a migrator
    dropped since. A savepoint keeps the snapshot's transaction usable after that."""
    from .describe import describe

    try:
        with conn.transaction():
            return describe(conn, pg_schema)
    except psycopg.errors.InternalError_:
        return None


def _check_duplicates(conn, differences: list[Difference]) -> None:
    """A fix building a unique index or constraint fails on duplicate keys: look for them in the live
    table (bounded, within the snapshot) so that the fix lists them instead of failing on them."""
    building = [d for d in differences if d.unique]
    if not building:
        return
    from .duplicates import find_duplicates, statement_key

    for d in building:
        key = statement_key(d.unique)
        found = find_duplicates(conn, key) if key else None
        if found is not None:
            d.checked_for_duplicates(found)


def _position(state) -> tuple:
    return frozenset(state.applied), frozenset(state.in_progress)


def _moved_since(dsn: str, bookkeeping_schema: str, seen: dict) -> bool:
    """Whether a migrator committed after the snapshot. The snapshot keeps migration_logs and the
    catalog tables consistent, but pg_get_indexdef and friends read the live catalog: an index a
    migration dropped meanwhile shows as "different". Such differences are its half-way, not drift."""
    from ..bookkeeping.bookkeeping import MigrationLog
    from ..connection import connect

    with connect(dsn, role="drift") as conn:
        log = MigrationLog(conn, bookkeeping_schema)
        return any(_position(log.state(s)) != position for s, position in seen.items())


@contextmanager
def _snapshot(conn):
    """migration_logs and the catalog read in one REPEATABLE READ snapshot: a migrator committing
    meanwhile (its DDL and its log row commit together) is seen entirely or not at all."""
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with conn.transaction():
        yield


def _state_warnings(schema: str, state) -> list[str]:
    out = []
    if state.failed or state.stale:
        ids = sorted(set(state.failed) | set(state.stale))
        out.append(f"{schema}: migration(s) {', '.join(map(str, ids))} failed or were interrupted; "
                   "their partial effects show as drift (see `pgferry recover`)")
    if state.in_progress:
        out.append(f"{schema}: migration(s) {', '.join(map(str, sorted(state.in_progress)))} are running right now")
    return out


def _beyond(defs, schema: str, version: str, applied) -> list[str]:
    graph = defs.schemas[schema]
    done = graph.normalize(applied)
    required = defs.required(defs.release(version), schema)
    extra = sorted(done - required - set(graph.squashes))
    missing = sorted(required - done)
    out = []
    if extra:
        out.append(f"{schema}: {len(extra)} migration(s) applied beyond {version} ({', '.join(map(str, extra[:5]))}"
                   f"{', ...' if len(extra) > 5 else ''}): their changes show as drift")
    if missing:
        out.append(f"{schema}: {len(missing)} migration(s) of {version} are not applied; their absence shows as drift")
    return out


# -- refusing a run over a database whose bookkeeping knows nothing of it ---------------------


class UnrecordedDatabase(DriftFound):
    def __init__(self, found: Unrecorded):
        super().__init__(found.message + ". Nothing was changed.", hint=found.hint)
        self.found = found


def first_unrecorded(defs, dsns: Mapping[str, str], bookkeeping_schema: str = "public",
                     pg_schema: str = "public") -> Unrecorded | None:
    """The first database holding the product's tables with nothing recorded about its schemas. Reads only."""
    from ..connection import connect

    for dsn in dict.fromkeys(dsns.values()):
        here = [s for s in defs.schemas if dsns.get(s) == dsn]
        with connect(dsn, role="status") as conn:
            found = find_unrecorded(conn, defs, here, bookkeeping_schema, pg_schema)
        if found is not None:
            return found
    return None


def refuse_unrecorded(defs, dsns: Mapping[str, str], bookkeeping_schema: str = "public",
                      pg_schema: str = "public") -> None:
    """Raise UnrecordedDatabase (exit 5) for such a database; meant for when nothing applied was found."""
    found = first_unrecorded(defs, dsns, bookkeeping_schema, pg_schema)
    if found is not None:
        raise UnrecordedDatabase(found)

