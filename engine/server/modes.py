"""pg_upgrade's three transfer modes explained (issue 17 §2): time and disk from the data
directory's size, and the way back from each.

The estimates are deliberately rough, from documented throughput figures: pg_upgrade first dumps
and restores the catalog (roughly constant for a product's schema), then moves the user data:
copy reads and writes every byte, clone asks the filesystem for copy-on-write copies, link makes
hard links (a few thousand files a second whatever their size).
"""
from __future__ import annotations

from dataclasses import dataclass

CATALOG_SECONDS = 10.0  # schema dump and restore of a product's few hundred objects, plus two server starts
COPY_BYTES_PER_SECOND = 150e6  # a sequential read plus write on one SSD
CLONE_BYTES_PER_SECOND = 5e9  # reflink copies: metadata only
LINK_BYTES_PER_SECOND = 50e9  # hard links: per file, not per byte; ~1 GB segments link in microseconds
SLACK_BYTES = 64 << 20  # the new cluster's own catalog and WAL


@dataclass(frozen=True)
class Mode:
    name: str  # copy | clone | link
    summary: str
    bytes_per_second: float
    copies_data: bool
    rollback: tuple[str, ...]  # the way back, as steps an operator follows
    needs_backup: bool = False

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    def disk_needed(self, data_bytes: int) -> int:
        return (data_bytes if self.copies_data else 0) + SLACK_BYTES

    def seconds(self, data_bytes: int, jobs: int = 1) -> float:
        return CATALOG_SECONDS + data_bytes / self.bytes_per_second / max(1, jobs)

    def as_dict(self, data_bytes: int, jobs: int = 1) -> dict:
        return {"mode": self.name, "summary": self.summary, "seconds": round(self.seconds(data_bytes, jobs), 1),
                "disk_bytes": self.disk_needed(data_bytes), "rollback": list(self.rollback),
                "backup_required": self.needs_backup}


COPY = Mode("copy", "copies every data file: slowest, the old cluster stays usable throughout",
            COPY_BYTES_PER_SECOND, True,
            ("the old cluster is untouched at every step: stop the new server if it runs, then "
             "`pg_ctl start -D <old-datadir>`",))
CLONE = Mode("clone", "copy-on-write copies (XFS, Btrfs, APFS): fast, the old cluster stays usable",
             CLONE_BYTES_PER_SECOND, False,
             ("the old cluster is untouched (its files are cloned, not shared): stop the new server if it "
              "runs, then `pg_ctl start -D <old-datadir>`",))
LINK = Mode("link", "hard-links the data files: fastest, no extra disk, and no way back once the new server "
            "has started", LINK_BYTES_PER_SECOND, False,
            ("before the new server first starts: rename <old-datadir>/global/pg_control.old back to "
             "pg_control and start the old server",
             "after it has started, the old cluster's files are the new one's: restore the backup"),
            needs_backup=True)
MODES = {m.name: m for m in (COPY, CLONE, LINK)}
