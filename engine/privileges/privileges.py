"""Privileged steps (docs/design.md §8): what the connected role can do, the bundle for a DBA, and
verifying the DBA's work in the catalog.

A statement is privileged when an ordinary owner role cannot run it (sqlfile.privilege_reason).
Whether *this* role can run it depends on the server: superuser, CREATEROLE, trusted extensions
(PostgreSQL 13+) with CREATE on the database, extensions that already exist, extensions it owns.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Iterable

import psycopg
from psycopg import conninfo

from ..bookkeeping.grantlog import Grant, GrantLog
from ..connection import connect, describe_target
from ..definitions.sqlfile import Statement
from ..errors import UsageError
from ..plan.planner import Plan, PlanStep
from ..safetext import printable


@dataclass(frozen=True)
class Capabilities:
    role: str
    superuser: bool
    createrole: bool
    create_on_database: bool
    server_version: int
    installed: dict[str, str]  # extension -> version
    owned: frozenset[str]  # extensions this role owns
    trusted: frozenset[str]  # available extensions marked trusted
    available: frozenset[str]
    alter_system: bool = False
    # Where this role's statements land: current_database() on the server libpq reached.
    database: str = ""
    host: str = ""
    port: str = ""

    @classmethod
    def read(cls, conn: psycopg.Connection) -> "Capabilities":
        role, superuser, createrole, create_db, database = conn.execute(
            "SELECT current_user, r.rolsuper, r.rolcreaterole, has_database_privilege(current_database(), 'CREATE'), "
            "current_database() FROM pg_roles r WHERE r.rolname = current_user").fetchone()
        version = conn.info.server_version
        installed = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
        owned = {r[0] for r in conn.execute(
            "SELECT extname FROM pg_extension WHERE pg_has_role(current_user, extowner, 'USAGE')").fetchall()}
        available = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions").fetchall()}
        trusted: set[str] = set()
        if version >= 130000:
            trusted = {r[0] for r in conn.execute(
                "SELECT DISTINCT name FROM pg_available_extension_versions WHERE trusted").fetchall()}
        alter_system = superuser
        if version >= 150000 and not superuser:
            alter_system = bool(conn.execute(
                "SELECT count(*) > 0 FROM pg_parameter_acl a, aclexplode(a.paracl) x "
                "WHERE x.grantee = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                "AND x.privilege_type = 'ALTER SYSTEM'").fetchone()[0])
        return cls(role, superuser, createrole, create_db, version, installed, frozenset(owned),
                   frozenset(trusted), frozenset(available), alter_system, database, conn.info.host,
                   str(conn.info.port))


def ext_name(node) -> str | None:
    from pglast import ast  # a statement's tree is asked for: pglast is loaded already, or needed
    from pglast.enums import ObjectType

    if isinstance(node, ast.CreateExtensionStmt):
        return node.extname
    if isinstance(node, ast.AlterExtensionStmt):
        return node.extname
    if isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_EXTENSION:
        return node.objects[0].sval if node.objects else None
    if isinstance(node, ast.CommentStmt) and node.objtype == ObjectType.OBJECT_EXTENSION:
        return node.object.sval
    return None


def can_run(st: Statement, caps: Capabilities) -> tuple[bool, str]:
    """Whether the role can run a privileged statement here, and why (one short clause)."""
    from pglast import ast
    from pglast.enums import ObjectType

    n = st.node
    if caps.superuser:
        return True, "superuser"
    ext = ext_name(n)
    if isinstance(n, ast.CreateExtensionStmt):
        if ext in caps.installed and n.if_not_exists:
            return True, f"extension {ext} already exists"
        if ext in caps.trusted and caps.create_on_database:
            return True, f"{ext} is a trusted extension and the role has CREATE on the database"
        if ext not in caps.available:
            return False, f"the server does not offer extension {ext}"
        return False, f"creating extension {ext} needs a superuser ({ext} is not trusted)" if ext not in caps.trusted \
            else f"creating trusted extension {ext} needs CREATE on the database"
    if isinstance(n, ast.DropStmt) and n.removeType == ObjectType.OBJECT_EXTENSION:
        if ext not in caps.installed and n.missing_ok:
            return True, f"extension {ext} is already absent"
        if ext in caps.owned:
            return True, f"the role owns extension {ext}"
        return False, f"dropping extension {ext} needs its owner or a superuser"
    if isinstance(n, (ast.AlterExtensionStmt, ast.AlterExtensionContentsStmt, ast.CommentStmt)) and ext:
        if ext in caps.owned:
            return True, f"the role owns extension {ext}"
        return False, f"changing extension {ext} needs its owner or a superuser"
    if isinstance(n, (ast.CreateRoleStmt, ast.AlterRoleStmt, ast.AlterRoleSetStmt, ast.DropRoleStmt, ast.GrantRoleStmt)):
        if caps.createrole:
            return True, "the role has CREATEROLE"
        return False, f"{st.privilege} needs CREATEROLE or a superuser"
    if isinstance(n, ast.AlterSystemStmt):
        if caps.alter_system:
            return True, "the role was granted ALTER SYSTEM"
        return False, "ALTER SYSTEM needs a superuser (or GRANT ALTER SYSTEM on PostgreSQL 15+)"
    return False, f"{st.privilege} needs a superuser"


@dataclass(frozen=True)
class BundleItem:
    schema: str
    migration_id: int
    name: str
    up: bool
    database: str
    statements: tuple[Statement, ...]
    reasons: tuple[str, ...]
    path: str
    checksum: str = ""  # of the SQL file, so a grant covers exactly this SQL (grantlog.py)
    dbname: str = ""  # the database as the server names it (current_database()) ...
    host: str = ""  # ... and the server, as libpq reached it
    port: str = ""

    @property
    def sql(self) -> str:
        return "\n".join(s.text.rstrip() + ";" for s in self.statements)

    def as_dict(self) -> dict:
        return {"schema": self.schema, "id": self.migration_id, "name": self.name,
                "direction": "up" if self.up else "down", "database": self.database, "sql": self.sql,
                "reasons": list(self.reasons), "file": self.path, "verifiable": all(verifiable(s) for s in self.statements)}


@dataclass(frozen=True)
class Bundle:
    to_version: str
    items: tuple[BundleItem, ...]
    role: str
    # Every privileged step of the plan, runnable or not: the token covers all of them, so it
    # stays the same while a DBA works through the bundle and changes when the plan's SQL does.
    scope: tuple[BundleItem, ...] = ()

    @property
    def token(self) -> str:
        """Bound to the SQL's content and where it runs: a token cannot confirm a different bundle."""
        canonical = json.dumps([[i.schema, i.migration_id, i.up, i.sql] for i in self.scope or self.items],
                               sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        return "pgf-" + "-".join(digest[i:i + 4] for i in range(0, 16, 4))

    @property
    def empty(self) -> bool:
        return not self.items

    def as_dict(self) -> dict:
        return {"to": self.to_version, "role": self.role, "token": self.token,
                "steps": [i.as_dict() for i in self.items]}

    def to_sql(self) -> str:
        """The bundle as one file for a DBA. Spread over several databases, each database's part
        starts with psql's \\connect, so `psql -f` runs every step where it belongs."""
        several = len({(i.host, i.port, i.dbname) for i in self.items}) > 1
        servers = len({(i.host, i.port) for i in self.items}) > 1
        how = (["-- with psql (psql -f this file): each database's part starts with a \\connect to it.",
                "-- Then tell the operator they are done."] if several else
               ["-- in the database named above each step, then tell the operator they are done."])
        out = [f"-- pgferry privileged steps for the upgrade to {self.to_version}",
               f"-- The application role {printable(repr(self.role), one_line=True)} cannot run these; please run "
               "them as a superuser", *how, f"-- token: {self.token}", ""]
        current = None
        for i in self.items:
            if several and (i.host, i.port, i.dbname) != current:
                current = (i.host, i.port, i.dbname)
                out.append(psql_connect(i.dbname, *((i.host, i.port) if servers else ())))
            out.append(printable(f"-- {i.database}: {i.schema} migration {i.migration_id} ({i.name})"
                                 f"{'' if i.up else ' [revert]'}", one_line=True))
            out += [printable(f"--   {r}", one_line=True) for r in i.reasons]
            out.append(i.sql)
            out.append("")
        return "\n".join(out)


def psql_connect(dbname: str, host: str | None = None, port: str | None = None) -> str:
    """psql's \\connect to `dbname` (on `host`:`port`), reusing the DBA's user and password.

    Always a connection string, never the positional form: a name holding `=` or starting with
    `postgresql://` would be read as one. libpq quotes the value, psql's single quotes carry it."""
    params = {"dbname": dbname, **({"host": host, "port": port} if host else {})}
    for value in params.values():
        if printable(value, one_line=True) != value:  # a psql meta-command ends at the line's end
            raise UsageError(f"cannot write a psql \\connect line for {printable(value, one_line=True)!r}: the name "
                             "holds control characters",
                             hint="hand each database's steps over separately (`pgferry privileged --json` names each "
                                  "step's database), or rename the database")
    text = conninfo.make_conninfo(**params)
    return "\\connect -reuse-previous=on '" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def privileged_steps(plan: Plan) -> list[PlanStep]:
    return [s for s in plan.steps if s.kind == "schema" and s.step.migration.privileged]


def build_bundle(plan: Plan, dsns: dict[str, str], caps_by_dsn: dict[str, Capabilities] | None = None,
                 *, include_runnable: bool = False) -> Bundle:
    """Every privileged statement of the whole plan the connected role(s) cannot run themselves."""
    caps_by_dsn = dict(caps_by_dsn or {})
    items: list[BundleItem] = []
    scope: list[BundleItem] = []
    role = ""
    for ps in privileged_steps(plan):
        m = ps.step.migration
        dsn = dsns[m.schema]
        if dsn not in caps_by_dsn:
            with connect(dsn, role="status") as conn:
                caps_by_dsn[dsn] = Capabilities.read(conn)
        caps = caps_by_dsn[dsn]
        role = role or caps.role
        script = ps.step.script
        verdicts = [(st, *can_run(st, caps)) for st in script.statements if st.privileged]
        item = BundleItem(m.schema, m.id, m.name, ps.step.up, describe_target(dsn),
                          tuple(st for st, _, _ in verdicts),
                          tuple(reason for _, ok, reason in verdicts if not ok), script.path, script.checksum,
                          caps.database, caps.host, caps.port)
        scope.append(item)
        if include_runnable or item.reasons:
            items.append(item)
    return Bundle(plan.to_version, tuple(items), role, tuple(scope))


# -- verification ----------------------------------------------------------------------------


def verifiable(st: Statement) -> bool:
    from pglast import ast
    from pglast.enums import ObjectType

    n = st.node
    return isinstance(n, (ast.CreateExtensionStmt, ast.CreateRoleStmt, ast.DropRoleStmt)) or (
        isinstance(n, ast.DropStmt) and n.removeType == ObjectType.OBJECT_EXTENSION)


def effect_present(conn: psycopg.Connection, st: Statement) -> bool | None:
    """True/False when the catalog shows whether the statement's effect is there; None if unknowable."""
    from pglast import ast
    from pglast.enums import ObjectType

    n = st.node
    if isinstance(n, ast.CreateExtensionStmt):
        return conn.execute("SELECT count(*) > 0 FROM pg_extension WHERE extname = %s", [n.extname]).fetchone()[0]
    if isinstance(n, ast.DropStmt) and n.removeType == ObjectType.OBJECT_EXTENSION:
        names = [o.sval for o in n.objects]
        return conn.execute("SELECT count(*) = 0 FROM pg_extension WHERE extname = ANY(%s)", [names]).fetchone()[0]
    if isinstance(n, ast.CreateRoleStmt):
        return conn.execute("SELECT count(*) > 0 FROM pg_roles WHERE rolname = %s", [n.role]).fetchone()[0]
    if isinstance(n, ast.DropRoleStmt):
        names = [r.rolename for r in n.roles]
        return conn.execute("SELECT count(*) = 0 FROM pg_roles WHERE rolname = ANY(%s)", [names]).fetchone()[0]
    return None


def usable_grants(conn: psycopg.Connection, bookkeeping_schema: str, schema: str, steps: Iterable) -> dict[tuple[int, bool], Grant]:
    """Open grants for privileged `steps` whose SQL is the one granted and whose effect the
    catalog still shows (an extension dropped since is not granted any more)."""
    steps = [s for s in steps if s.migration.privileged]
    if not steps:
        return {}
    grants = {(g.version, g.up, g.sql_checksum): g for g in GrantLog(conn, bookkeeping_schema).open(schema)}
    out: dict[tuple[int, bool], Grant] = {}
    for s in steps:
        g = grants.get((s.id, s.up, s.script.checksum))
        if g is not None and all(effect_present(conn, st) is not False for st in s.script.statements if st.privileged):
            out[(s.id, s.up)] = g
    return out


@dataclass
class Verification:
    item: BundleItem
    present: list[bool | None] = field(default_factory=list)
    granted_by: str | None = None  # an open grant for exactly this SQL (grantlog.py)

    @property
    def verified(self) -> bool:
        return bool(self.present) and all(p is True for p in self.present)

    @property
    def missing(self) -> bool:
        return any(p is False for p in self.present)

    @property
    def unknowable(self) -> bool:
        """The catalog cannot show it and nobody confirmed it yet."""
        return any(p is None for p in self.present) and not self.missing and not self.granted_by

    @property
    def done(self) -> bool:
        """Nobody else needs to act: the catalog shows it, or it was granted and nothing contradicts that."""
        return self.verified or (self.granted_by is not None and not self.missing)


def verify(bundle: Bundle, dsns: dict[str, str], bookkeeping_schema: str = "public") -> list[Verification]:
    out: list[Verification] = []
    for item in bundle.items:
        with connect(dsns[item.schema], role="status") as conn:
            grants = GrantLog(conn, bookkeeping_schema).open(item.schema)
            by = next((g.confirmed_by for g in grants if (g.version, g.up, g.sql_checksum)
                       == (item.migration_id, item.up, item.checksum)), None)
            out.append(Verification(item, [effect_present(conn, st) for st in item.statements], by))
    return out


def needs_someone_else(bundle: Bundle, dsns: dict[str, str], bookkeeping_schema: str = "public") -> list[BundleItem]:
    """Items whose effect is not already in the catalog (a DBA may have run them already)."""
    return [v.item for v in verify(bundle, dsns, bookkeeping_schema) if not v.done]


def describe_items(items: Iterable[BundleItem], width: int = 60) -> str:
    """`main 14 pg trgm (CREATE EXTENSION IF NOT EXISTS pg_trgm)`: each step with its first statement,
    a long one cut between words."""
    parts = []
    for i in items:
        first = " ".join(i.statements[0].text.split()) if i.statements else ""
        if len(first) > width:
            first = first[:width].rsplit(" ", 1)[0] + " …"
        more = f" and {len(i.statements) - 1} more" if len(i.statements) > 1 else ""
        parts.append(f"{i.schema} {i.migration_id} {i.name} ({first}{more})")
    return ", ".join(parts)


def hold_grants(items: Iterable[BundleItem], dsns: dict[str, str], confirmed_by: str,
                bookkeeping_schema: str = "public") -> list[int]:
    """Hold steps someone else ran as granted, with who confirmed them and how: each is recorded
    applied (manual) when a run reaches it, not now (grantlog.py). Returns the ids newly held."""
    from ..bookkeeping.bookkeeping import MigrationLog
    from ..locks import AdvisoryLock, lock_key

    held: list[int] = []
    for item in items:
        with connect(dsns[item.schema]) as conn:
            log, grants = MigrationLog(conn, bookkeeping_schema), GrantLog(conn, bookkeeping_schema)
            if not grants.exists():
                with AdvisoryLock(conn, lock_key(bookkeeping_schema, "bookkeeping"), "bookkeeping"):
                    grants.ensure()
            # Under the schema's migrator lock, so a running migrator never races the grant.
            with AdvisoryLock(conn, lock_key(bookkeeping_schema, item.schema), item.schema):
                done = item.migration_id in log.state(item.schema).applied
                if done != item.up and grants.hold(item.schema, item.migration_id, item.up, item.checksum,
                                                   confirmed_by):
                    held.append(item.migration_id)
    return held
