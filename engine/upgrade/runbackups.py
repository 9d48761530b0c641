"""Backups tied to upgrade runs (issue 15 §5): `upgrade --backup DIR` dumps each database the plan
changes, under the upgrade lock and before the run is recorded or anything changes; the records
(file, bytes, sha256, when) go into upgrade_runs.backups, where `pgferry restore --run N` finds them."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

from ..connection import connect, describe_target
from ..errors import PgferryError
from ..events import BackupTaken, EventSink, discard
from ..plan.planner import Plan
from ..userdirs import private_dir
from ..errors import DumpFailed
from .backup import client_major, find_tool, take_dump


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def listed(run_id: int, records: Iterable[dict] | None) -> list[dict]:
    """A run's backup records as `report --json` and `upgrade --json` list them: each with its run."""
    return [{"run_id": run_id, **b} for b in records or ()]


def changed_databases(dsns: Mapping[str, str], schemas: Iterable[str]) -> dict[str, list[str]]:
    """DSN -> the schemas living in it, for each database the given schemas change (in plan order)."""
    out: dict[str, list[str]] = {}
    for schema in dict.fromkeys(schemas):
        out.setdefault(dsns[schema], []).append(schema)
    return out


class BackupFailed(PgferryError):
    """A dump before the run failed: the run did not start and nothing was changed (exit 1)."""


def backup_before_changes(plan: Plan, dsns: Mapping[str, str], directory: str | Path | None,
                          on_event: EventSink = discard) -> list[dict]:
    """The dumps `upgrade --backup DIR` takes: each database the plan changes; none without DIR or steps."""
    if directory is None or plan.empty:
        return []
    schemas = [s.step.schema if s.kind == "schema" else s.oob.schema for s in plan.steps]
    try:
        return take_backups(dsns, schemas, directory, on_event)
    except (DumpFailed, OSError) as exc:
        raise BackupFailed(f"the backup before the run failed: {exc}. Nothing was changed.",
                           hint="check the --backup directory (space, permissions) and that pg_dump can connect") from None


def take_backups(dsns: Mapping[str, str], schemas: Iterable[str], directory: str | Path,
                 on_event: EventSink = discard) -> list[dict]:
    """Dump each database the schemas live in; the records `upgrade_runs.backups` keeps.

    Called under the upgrade lock, before the run is recorded and before any step: a crash
    between two dumps leaves files no run names and a database nothing changed."""
    records = []
    directory = private_dir(Path(directory).absolute())  # every folder it makes 0700, whatever the umask
    for dsn, in_it in changed_databases(dsns, schemas).items():
        with connect(dsn, role="backup") as conn:
            major = conn.info.server_version // 10000
            dump = take_dump(conn, dsn, directory)
            tool = client_major(find_tool("pg_dump", major) or "") or major  # pg_restore must read its archive
            database = conn.info.dbname
        records.append({
            "database": database, "target": describe_target(dsn), "schemas": in_it, "path": str(dump.path.resolve()),
            "bytes": dump.size, "sha256": sha256_of(dump.path), "server_major": major,
            "pg_dump_major": tool,
            "taken_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
        on_event(BackupTaken(database, str(dump.path), dump.size, dump.seconds))
    return records
