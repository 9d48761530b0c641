"""Bad input corpus: malformed definitions, arguments, connection strings, credentials and targets.

Every case runs the real command line in a subprocess, with a DSN that carries a password, and
asserts all of: the documented exit code; one `error:` line that names the file and line (or the
setting, version, id, database or role) at fault; no traceback; no password anywhere in stdout or
stderr; and nothing written to the target database (its relations and bookkeeping rows compared
before and after). tests/engine/test_validate.py checks each validation rule's exact findings in-process;
this corpus checks what an operator sees when a writing command meets the same mistakes.
"""
from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from pgferry.engine.definitions.catalog import bundled_migrations_dir
from tests.support import SMALL, query
from tests.faults.harness import no_traceback, pgferry
from tests.faults.pg import SUPERUSER_PASSWORD
from tests.faults.product import NEWEST, OLDEST
from tests.broken import ERROR_CASES

SECRET = "Wr0ng-but-s3cret!pw"  # a password that must never be shown, right or wrong
ROLE_PASSWORD = "R0le-s3cret;'pw"


@dataclass
class Case:
    id: str
    args: Callable[["Env"], list[str]]
    code: int
    names: str  # regex the `error:` line must match (file:line, the setting, the version, ...)
    target: str = "empty"  # which database must stay untouched: empty | product
    env: Callable[["Env"], dict] = field(default=lambda e: {})
    secrets: tuple[str, ...] = (SUPERUSER_PASSWORD, SECRET, ROLE_PASSWORD)


@dataclass
class Env:
    server: object
    standby: object
    empty: str  # database names
    product: str
    defs: dict  # case id -> broken definitions dir
    tmp: Path

    def dsn(self, db: str | None = None, **kw) -> str:
        return self.server.dsn(db or self.empty, **kw)


# -- definitions broken one way each (the small fixture, as tests/engine/test_validate.py breaks it) ----

DEF_CASES = {  # case id in tests/engine/test_validate.py -> the error line must name this file (and line)
    "unknown-parent": r"main/12_orgs_slug/metadata\.yaml:2: unknown parent 99",
    "cycle": r"main/1[13]_[a-z_]+/metadata\.yaml:2: cycle",
    "two-roots": r"main/12_orgs_slug/metadata\.yaml:2: schema main has 2 roots",
    "duplicate-id": r"main/12_orgs_slug_again: duplicate migration id 12",
    "missing-up": r"main/12_orgs_slug/up\.sql: missing up\.sql",
    "yaml-unclosed": r"main/12_orgs_slug/metadata\.yaml:3: invalid YAML",
    "yaml-tab": r"main/12_orgs_slug/metadata\.yaml:3: invalid YAML",
    "yaml-alias-bomb": r"main/12_orgs_slug/metadata\.yaml:4: invalid YAML: alias \*l1",
    "parents-str": r"main/12_orgs_slug/metadata\.yaml:2: parents must be a list",
    "privileged-str": r"main/12_orgs_slug/metadata\.yaml:3: privileged must be a bool",
    "unknown-key": r"main/12_orgs_slug/metadata\.yaml:3: unknown key 'colour'",
    "sql-syntax-inside": r"main/12_orgs_slug/up\.sql:5: unparsable SQL",
    "begin-commit": r"main/12_orgs_slug/up\.sql:[13]: explicit transaction control",
    "unmarked-create-extension": r"main/12_orgs_slug/up\.sql:3: privileged statement \(CREATE EXTENSION\)",
    "privileged-mixed": r"main/14_pg_trgm/up\.sql:2: .*mixes privileged and ordinary",
    "cic-two-statements": r"main/16_events_kind_index/up\.sql:2: .*exactly one CREATE INDEX CONCURRENTLY",
    "cic-unnamed": r"main/16_events_kind_index/up\.sql:1: .*must name its index",
    "down-drop-index-concurrently": r"main/16_events_kind_index/down\.sql:1: CONCURRENTLY in down\.sql",
    "vacuum-up": r"main/12_orgs_slug/up\.sql:3: VACUUM cannot run inside a transaction",
    "release-unknown-leaf": r"releases\.yaml:8: release 1\.1\.0: aux leaf 99 does not exist",
    "release-shrinks": r"releases\.yaml:11: release 1\.2\.0: main drops",
    "release-bad-version": r"releases\.yaml:8: invalid version 'one\.one'",
    "release-bad-compatible-with": r"releases\.yaml:10: invalid compatible_with range '1\.0\.0 or later'",
    "releases-missing": r"releases\.yaml: missing releases\.yaml",
}
BY_ID = {c.id: c for c in ERROR_CASES}

OOB = "out-of-band/1_backfill_repo_stars/metadata.yaml"
OOB_CASES = {  # broken out-of-band metadata of the bundled product -> what the error line names
    "oob-lifetime-inverted": ("introduced: 3.21.0\ndeprecated: 3.24.0", "introduced: 3.24.0\ndeprecated: 3.21.0",
                              rf"{OOB}: lifetime inverted: deprecated 3\.21\.0 is not after introduced 3\.24\.0"),
    "oob-unknown-release": ("introduced: 3.21.0", "introduced: 3.21.7", rf"{OOB}: introduced names unknown release 3\.21\.7"),
    "oob-unknown-schema": ("schema: frontend", "schema: billing", rf"{OOB}: unknown schema 'billing'"),
    "oob-batch-size": ("batchSize: 1000", "batchSize: -5", rf"{OOB}:\d+: batchSize must be positive"),
}


def _def_cases() -> list[Case]:
    out = []
    for cid, names in DEF_CASES.items():
        out.append(Case(f"defs:{cid}", lambda e, cid=cid: ["up", "--dsn", e.dsn(), "--migrations", str(e.defs[cid]),
                                                           "--no-progress"], 2, names))
    for cid, (_, _, names) in OOB_CASES.items():
        out.append(Case(f"defs:{cid}", lambda e, cid=cid: ["upgrade", "--to", NEWEST, "--dsn", e.dsn(e.product), "--yes",
                                                           "--migrations", str(e.defs[cid]), "--no-progress"],
                        2, names, target="product"))
    return out


# -- arguments, versions, ids ---------------------------------------------------------------------

ARG_CASES = [
    Case("version-unknown", lambda e: ["upgrade", "--to", "9.9.9", "--dsn", e.dsn(e.product), "--yes"], 2,
         r"9\.9\.9", target="product"),
    Case("version-garbage", lambda e: ["plan", "--to", "latest-ish", "--dsn", e.dsn(e.product)], 2, r"latest-ish",
         target="product"),
    Case("version-pulled", lambda e: ["upgrade", "--to", "3.30.0", "--dsn", e.dsn(e.product), "--yes"], 2,
         r"3\.30\.0.*pulled", target="product"),
    Case("version-insiders-without-channel", lambda e: ["upgrade", "--to", "4.3.0-rc.1", "--dsn", e.dsn(e.product),
                                                        "--yes"], 2, r"4\.3\.0-rc\.1.*insiders", target="product"),
    Case("version-older-via-upgrade", lambda e: ["upgrade", "--to", "3.10.0", "--dsn", e.dsn(e.product), "--yes"], 2,
         r"3\.10\.0", target="product"),
    Case("check-unknown-release", lambda e: ["check", "--release", "7.0.0", "--dsn", e.dsn(e.product)], 2, r"7\.0\.0",
         target="product"),
    Case("upto-unknown-id", lambda e: ["upto", "--schema", "frontend", "--target", "42", "--dsn", e.dsn(e.product)], 2,
         r"frontend has no migration 42", target="product"),
    Case("upto-not-an-id", lambda e: ["upto", "--schema", "frontend", "--target", "abc", "--dsn", e.dsn(e.product)], 2,
         r"--target expects migration ids, got 'abc'", target="product"),
    Case("unknown-schema", lambda e: ["up", "--schema", "billing", "--dsn", e.dsn(e.product)], 2, r"billing",
         target="product"),
    Case("schema-dsn-malformed", lambda e: ["status", "--schema-dsn", "frontend", "--dsn", e.dsn()], 2,
         r"--schema-dsn expects NAME=DSN"),
    Case("schema-dsn-unknown-schema", lambda e: ["status", "--schema-dsn", f"billing={e.dsn()}", "--dsn", e.dsn()], 2,
         r"unknown schema 'billing'"),
    Case("recover-mark-unknown-id", lambda e: ["recover", "--mark-applied", "12345", "--yes", "--dsn", e.dsn(e.product)],
         2, r"12345", target="product"),
    Case("oob-unknown-id", lambda e: ["oob", "run", "99", "--dsn", e.dsn(e.product)], 2, r"no out-of-band migration 99",
         target="product"),
    Case("lock-timeout-not-a-number", lambda e: ["up", "--lock-timeout", "soon", "--dsn", e.dsn()], 2,
         r"--lock-timeout: invalid float value: 'soon'"),
    Case("migrations-dir-missing", lambda e: ["up", "--migrations", str(e.tmp / "nowhere"), "--dsn", e.dsn()], 2,
         r"nowhere"),
    Case("privileged-token-from-another-plan", lambda e: ["privileged", "verify", "--to", NEWEST, "--token",
                                                          "0" * 64, "--dsn", e.dsn(e.product)], 2,
         r"token does not match this bundle", target="product"),
]

# -- connection strings, credentials, roles, servers ---------------------------------------------

CONN_CASES = [
    Case("dsn-syntax", lambda e: ["up", "--dsn", f"host=127.0.0.1 password={SECRET} dbname"], 2, r"invalid DSN"),
    Case("dsn-misspelt-key", lambda e: ["up", "--dsn", f"host=127.0.0.1 passwd={SECRET} dbname=x"], 2,
         r"invalid DSN.*passwd"),
    Case("dsn-uri-bad-port", lambda e: ["up", "--dsn", f"postgresql://u:{SECRET}@127.0.0.1:notaport/db"], 2,
         r"invalid DSN .*notaport"),
    Case("dsn-wrong-scheme", lambda e: ["up", "--dsn", f"mysql://u:{SECRET}@127.0.0.1/db"], 2, r"invalid DSN"),
    Case("dsn-unreachable-port", lambda e: ["up", "--dsn", e.server.dsn("x", password=SECRET).replace(
        f"port={e.server.port}", "port=1"), "--connect-timeout-unused"][:3], 6, r"cannot connect to .*127\.0\.0\.1:1"),
    Case("wrong-password", lambda e: ["up", "--dsn", e.dsn(password=SECRET)], 6,
         r"cannot connect to postgres@127\.0\.0\.1:\d+/\w+: .*password authentication failed for user \"postgres\""),
    Case("wrong-password-uri", lambda e: ["status", "--dsn", e.server.uri(e.empty, password=SECRET)], 6,
         r"password authentication failed"),
    Case("wrong-password-pgferry-dsn-env", lambda e: ["up"], 6, r"password authentication failed",
         env=lambda e: {"PGFERRY_DSN": e.dsn(password=SECRET)}),
    Case("wrong-password-pgpassword", lambda e: ["up", "--dsn", e.dsn(password=None)], 6,
         r"password authentication failed", env=lambda e: {"PGPASSWORD": SECRET}),
    Case("wrong-password-schema-dsn", lambda e: ["status", "--dsn", e.dsn(), "--schema-dsn",
                                                 f"codeintel={e.dsn(password=SECRET)}"], 6, r"password authentication failed"),
    Case("unknown-role", lambda e: ["up", "--dsn", e.dsn(user="nobody_here", password=SECRET)], 6,
         r"nobody_here"),
    Case("database-does-not-exist", lambda e: ["up", "--dsn", e.dsn("no_such_db")], 6,
         r"database \"no_such_db\" does not exist"),
    Case("role-without-connect", lambda e: ["up", "--dsn", e.dsn(e.empty, user="no_connect", password=ROLE_PASSWORD)], 6,
         r"permission denied for database .*CONNECT privilege"),
    Case("read-only-role", lambda e: ["up", "--dsn", e.dsn(e.empty, user="read_only", password=ROLE_PASSWORD),
                                      "--no-progress"], 1, r"read-only.*default_transaction_read_only"),
    Case("read-only-upgrade", lambda e: ["upgrade", "--to", NEWEST, "--yes", "--no-progress", "--dsn",
                                         e.dsn(e.product, user="read_only", password=ROLE_PASSWORD)], 1,
         r"read-only.*default_transaction_read_only", target="product"),
    Case("hot-standby", lambda e: ["upgrade", "--to", NEWEST, "--yes", "--no-progress", "--dsn",
                                   e.standby.dsn(e.product)], 1, r"hot standby", target="product"),
]

CASES = _def_cases() + ARG_CASES + CONN_CASES
assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


def snapshot(server, db: str) -> list:
    """What a command could have written: relations outside the system schemas, bookkeeping rows."""
    rels = query(server.dsn(db), "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
                                 "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                                 "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2")
    out = [rels]
    for table in ("migration_logs", "upgrade_runs", "out_of_band_migrations"):
        if any(r[1] == table for r in rels):
            out.append(query(server.dsn(db), f"SELECT count(*), max(id) FROM {table}"))
    return out


@pytest.fixture(scope="module")
def env(product, fault_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    empty = fault_server.create_database("bad_empty")
    prod, _ = product.clone("bad_product")
    for db in (empty, prod):
        fault_server.execute(f'REVOKE CONNECT ON DATABASE "{db}" FROM PUBLIC')
    fault_server.execute("DROP ROLE IF EXISTS no_connect; DROP ROLE IF EXISTS read_only")
    fault_server.execute(f"CREATE ROLE no_connect LOGIN PASSWORD '{ROLE_PASSWORD.replace(chr(39), chr(39) * 2)}'")
    fault_server.execute(f"CREATE ROLE read_only LOGIN SUPERUSER PASSWORD '{ROLE_PASSWORD.replace(chr(39), chr(39) * 2)}'")
    fault_server.execute("ALTER ROLE read_only SET default_transaction_read_only = on")
    defs = {}
    for cid in DEF_CASES:
        d = tmp / cid / "migrations"
        shutil.copytree(SMALL, d)
        BY_ID[cid].mutate(d)
        defs[cid] = d
    for cid, (old, new, _) in OOB_CASES.items():
        d = tmp / cid / "migrations"
        shutil.copytree(bundled_migrations_dir(), d)
        meta = d / OOB
        text = meta.read_text()
        assert old in text, (cid, old)
        meta.write_text(text.replace(old, new, 1))
        defs[cid] = d
    standby = fault_server.standby()
    e = Env(fault_server, standby, empty, prod, defs, tmp)
    # wait until the standby has the product database
    for _ in range(200):
        if standby.execute("SELECT 1 FROM pg_database WHERE datname = %s", [prod]):
            break
        import time
        time.sleep(0.05)
    yield e
    standby.destroy()


def _run(e: Env, case: Case):
    before = snapshot(e.server, e.product if case.target == "product" else e.empty)
    r = pgferry(*case.args(e), extra_env=case.env(e), timeout=120)
    after = snapshot(e.server, e.product if case.target == "product" else e.empty)
    return r, before, after


def test_bad_input_corpus(env, request):
    from tests.support import say

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda c: (c, *_run(env, c)), CASES))
    failures = []
    for case, r, before, after in results:
        out = r.stdout + r.stderr
        problems = []
        if r.returncode != case.code:
            problems.append(f"exit {r.returncode}, documented {case.code}")
        if not no_traceback(out):
            problems.append("traceback")
        errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
        elif not re.search(case.names, errors[0]):
            problems.append(f"error line does not name {case.names!r}")
        leaked = [s for s in case.secrets if s in out]
        if leaked:
            problems.append(f"password shown: {leaked}")
        if before != after:
            problems.append("the database changed")
        if problems:
            failures.append(f"{case.id}: {'; '.join(problems)}\n    stderr: {r.stderr.strip()[-600:]}")
    say(request, f"\nbad input corpus: {len(CASES)} cases, {len(failures)} failing")
    assert not failures, "\n".join(failures)
