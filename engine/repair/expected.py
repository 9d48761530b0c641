"""Expected shapes per release (docs/design.md §10): replay the definitions into scratch databases.

Each schema is installed alone, in its own scratch database, so a shape never depends on
which other schemas happen to share a database; `merge` combines them for a shared one.
The bundled product ships the results in migrations/expected/<version>.json so that drift
works offline.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import psycopg
from psycopg import conninfo, sql

from ..connection import connect
from ..definitions.catalog import Definitions
from ..errors import UsageError
from ..run.runner import Migrator, RunOptions
from .describe import canonical_json, describe

EXPECTED_DIR = "expected"


def expected_path(defs: Definitions, version: str) -> Path:
    return Path(defs.root) / EXPECTED_DIR / f"{defs.release(version).version}.json"


def load_expected(defs: Definitions, version: str) -> dict[str, dict]:
    path = expected_path(defs, version)
    if not path.is_file():
        raise UsageError(f"no expected shape for release {defs.release(version).version} ({path} is missing)",
                         hint=f"generate it with `pgferry describe --expected --write --version {version}`")
    return json.loads(path.read_text(encoding="utf-8"))


def render(shapes: dict[str, dict]) -> str:
    return canonical_json(shapes)


class _Scratch:
    """Creates and drops scratch databases on a server pgferry may use freely."""

    def __init__(self, admin_dsn: str):
        self.admin_dsn = admin_dsn

    def create(self, label: str) -> str:
        name = f"pgferry_scratch_{re.sub(r'[^a-z0-9]+', '_', label.lower())}_{os.urandom(4).hex()}"[:63]
        with connect(self.admin_dsn, role="expected") as conn:
            # template0: the scratch shape must not inherit whatever template1 holds
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        params = conninfo.conninfo_to_dict(self.admin_dsn)
        params["dbname"] = name
        return conninfo.make_conninfo(**params)

    def drop(self, dsn: str) -> None:
        name = conninfo.conninfo_to_dict(dsn)["dbname"]
        with connect(self.admin_dsn, role="expected") as conn:
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), force))


@contextmanager
def scratch_server(admin_dsn: str | None = None) -> Iterator[_Scratch]:
    """The given server, or a throw-away embedded one in a temporary directory."""
    if admin_dsn:
        yield _Scratch(admin_dsn)
        return
    from ..embedded import start

    tmp = Path(tempfile.mkdtemp(prefix="pgferry-expected-"))
    server = start(tmp / "pgdata")
    try:
        params = conninfo.conninfo_to_dict(server.uri("postgres"))
        params.pop("password", None)
        yield _Scratch(conninfo.make_conninfo(**params))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _install(scratch: _Scratch, defs: Definitions, schema: str, leaves: tuple[int, ...], label: str) -> dict:
    graph = defs.schemas[schema]
    dsn = scratch.create(f"{schema}_{label}")
    try:
        with Migrator(dsn, graph, RunOptions(poll=0.05)) as m:
            m.run(lambda applied: graph.up(applied, leaves))
        with psycopg.connect(dsn, autocommit=True) as conn:
            return describe(conn)
    finally:
        scratch.drop(dsn)


def generate(defs: Definitions, version: str, *, admin_dsn: str | None = None,
             scratch: _Scratch | None = None) -> dict[str, dict]:
    """{schema: description} of every schema the release has, each installed fresh and alone."""
    release = defs.release(version)
    if scratch is None:
        with scratch_server(admin_dsn) as s:
            return generate(defs, version, scratch=s)
    return {name: _install(scratch, defs, name, release.leaves[name], release.version)
            for name in defs.schemas if release.leaves.get(name)}


def generate_many(defs: Definitions, versions: Iterable[str], *, admin_dsn: str | None = None,
                  workers: int = 4) -> Iterator[tuple[str, dict]]:
    """(version, shapes) for each release, in order; installs run in parallel on one scratch server."""
    from concurrent.futures import ThreadPoolExecutor

    releases = [defs.release(v) for v in versions]
    with scratch_server(admin_dsn) as s, ThreadPoolExecutor(workers) as pool:
        futures = {(r.version, name): pool.submit(_install, s, defs, name, r.leaves[name], r.version)
                   for r in releases for name in defs.schemas if r.leaves.get(name)}
        for r in releases:
            yield r.version, {name: f.result() for (v, name), f in futures.items() if v == r.version}


def merge(descs: Iterable[dict]) -> dict:
    """The expected shape of one database holding several schemas: the union of their shapes."""
    descs = list(descs)
    out: dict = {"schema": descs[0]["schema"] if descs else "public", "extensions": [], "enums": {}, "functions": {},
                 "sequences": {}, "tables": {}, "views": {}}
    for d in descs:
        out["extensions"] = sorted(set(out["extensions"]) | set(d.get("extensions", ())))
        for key in ("enums", "functions", "sequences", "tables", "views"):
            for name, value in d.get(key, {}).items():
                if name in out[key] and out[key][name] != value:
                    raise UsageError(f"two schemas sharing a database define {key[:-1]} {name!r} differently",
                                     hint="give those schemas separate databases with --schema-dsn")
                out[key][name] = value
    return {k: (dict(sorted(v.items())) if isinstance(v, dict) else v) for k, v in out.items()}
