"""calibrations: the throughputs `pgferry calibrate` measured on a server (docs/design.md §6).

The cost model turns table sizes into seconds with four figures: how fast this server scans a
table, rewrites one (ALTER COLUMN TYPE, CREATE TABLE AS), builds an index over one, and how long
a statement that only changes the catalog takes. Measured figures depend on the disks, the
memory and the load, so they are stored per server (its version and when) and the newest row is
the one plans use. Before any calibration the built-in DEFAULTS stand in, marked "default".
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, replace
from datetime import datetime

from psycopg import sql

from .pgschema import BookkeepingTable

TABLE = "calibrations"
COLUMNS = {
    "id": "bigserial PRIMARY KEY",
    "measured_at": "timestamptz NOT NULL DEFAULT now()",
    "server_version": "text NOT NULL",
    "scan_mb_s": "float8 NOT NULL",
    "rewrite_mb_s": "float8 NOT NULL",
    "index_mb_s": "float8 NOT NULL",
    "catalog_s": "float8 NOT NULL",  # one statement that changes only the catalog, commit included
    "scratch_bytes": "bigint NOT NULL",  # the size of the scratch table measured on
    "host": "text",
}


@dataclass(frozen=True)
class Throughputs:
    """What the cost model needs, in MB/s (MB = 2^20 bytes) and seconds."""

    scan_mb_s: float
    rewrite_mb_s: float
    index_mb_s: float
    catalog_s: float
    basis: str = "default"  # plan/impact.py's Basis: "calibrated" once measured here
    server_version: str | None = None
    measured_at: datetime | None = None

    def as_dict(self) -> dict:
        return {"scan_mb_s": self.scan_mb_s, "rewrite_mb_s": self.rewrite_mb_s, "index_mb_s": self.index_mb_s,
                "catalog_s": self.catalog_s, "basis": self.basis, "server_version": self.server_version,
                "measured_at": self.measured_at.isoformat() if self.measured_at else None}


# Before calibration: an order of magnitude for a small server with the table in its cache (a
# laptop's SSD measures 300-800 MB/s scanning, about a quarter of that rewriting; an index build
# sorts, slower again). Calibrating replaces them.
DEFAULTS = Throughputs(scan_mb_s=400.0, rewrite_mb_s=80.0, index_mb_s=60.0, catalog_s=0.005)


class CalibrationLog(BookkeepingTable):
    """The calibrations table of one database."""

    NAME = TABLE
    COLUMNS = COLUMNS

    def latest(self) -> Throughputs | None:
        if not self.exists():
            return None
        row = self.conn.execute(sql.SQL(
            "SELECT scan_mb_s, rewrite_mb_s, index_mb_s, catalog_s, server_version, measured_at "
            "FROM {} ORDER BY id DESC LIMIT 1").format(self.table)).fetchone()
        if row is None:
            return None
        return Throughputs(*row[:4], basis="calibrated", server_version=row[4], measured_at=row[5])

    def record(self, measured: Throughputs, scratch_bytes: int) -> Throughputs:
        """Store a measurement (creating the table under the bookkeeping lock the first time)."""
        self.ensure()
        row = self.conn.execute(sql.SQL(
            "INSERT INTO {} (server_version, scan_mb_s, rewrite_mb_s, index_mb_s, catalog_s, scratch_bytes, host) "
            "VALUES (current_setting('server_version'), %s, %s, %s, %s, %s, %s) "
            "RETURNING server_version, measured_at").format(self.table),
            [measured.scan_mb_s, measured.rewrite_mb_s, measured.index_mb_s, measured.catalog_s, scratch_bytes,
             socket.gethostname()]).fetchone()
        return replace(measured, basis="calibrated", server_version=row[0], measured_at=row[1])
