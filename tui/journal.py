"""The local event journal of an upgrade run started from the UI (docs/design.md §12).

The detached run process appends one JSON line per event worth telling a person; the UI that
started it (or reopens later on the same machine) tails the file for its log pane. Everything
else the run screen shows comes from the database, so `watch` on another machine sees the same.
Files are owner-only: they name tables and hosts.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import platformdirs

from pgferry.engine import events as ev
from pgferry.engine.connection import scrub
from pgferry.engine.errors import UsageError
from pgferry.engine.userdirs import SymlinkRefused, open_private, private_dir
from pgferry.tui.lines import describe, index_line, oob_line

PROGRESS_EVERY = 2.0  # seconds between progress lines: a log, not a live display


def journal_dir() -> Path:
    return Path(platformdirs.user_state_dir("pgferry")) / "runs"


def private_journal_dir() -> Path:
    """journal_dir(), made and kept owner-only (as every folder up to ~/.local/state/pgferry)."""
    return private_dir(journal_dir(), Path(platformdirs.user_state_dir("pgferry")))


def backup_dir() -> Path:
    """Where a run started from the UI puts its backups (`--backup`), beside the journals."""
    return Path(platformdirs.user_state_dir("pgferry")) / "backups"


def private_backup_dir() -> Path:
    return private_dir(backup_dir(), Path(platformdirs.user_state_dir("pgferry")))


def new_journal_path() -> Path:
    return private_journal_dir() / f"{socket.gethostname()}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.jsonl"


def _open_journal(path: Path) -> int:
    """Open a journal for appending, owner-only (`open_private`), with what to do when it cannot be."""
    try:
        return open_private(path, append=True)
    except SymlinkRefused:
        raise UsageError(f"journal {path} is a symbolic link; refusing to write through it",
                         hint="give the path of a regular file (or --journal auto)") from None
    except OSError as exc:
        if exc.errno == errno.EPERM:  # fchmod of a file opened for writing: another user's
            raise UsageError(f"cannot make journal {path} owner-only (mode 0600): it belongs to someone else",
                             hint="give a path of your own (or --journal auto)") from None
        raise UsageError(f"cannot open journal {path}: {exc.strerror}") from None


class JournalWriter:
    """An event sink appending JSON lines; also records how the process ended (`exit`)."""

    def __init__(self, path: str | os.PathLike, secrets: list[str] | None = None):
        self.path = Path(path)
        self.secrets = [s for s in (secrets or []) if s]
        self.file = os.fdopen(_open_journal(self.path), "a", encoding="utf-8")
        self._last_progress = 0.0
        self.write("process", line=f"pgferry process {os.getpid()} on {socket.gethostname()} started", pid=os.getpid())

    def write(self, kind: str, line: str | None = None, **data) -> None:
        record = {"t": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "kind": kind, **data}
        if line is not None:
            record["line"] = scrub(line, *self.secrets)
        self.file.write(json.dumps(record, default=str) + "\n")
        self.file.flush()

    def __call__(self, e) -> None:
        if isinstance(e, (ev.OobProgress, ev.IndexProgress)):
            now = time.monotonic()
            if now - self._last_progress < PROGRESS_EVERY:
                return
            self._last_progress = now
            line = oob_line(e) if isinstance(e, ev.OobProgress) else index_line(e)
        else:
            line = describe(e)
        if line is not None:
            run_id = getattr(e, "run_id", None)
            self.write(type(e).__name__, line=line, **({"run_id": run_id} if run_id is not None else {}))

    def exit(self, code: int, message: str | None = None, hint: str | None = None) -> None:
        text = scrub(message or "", *self.secrets)
        line = f"pgferry process {os.getpid()} finished (exit 0)" if code == 0 else \
            f"pgferry process {os.getpid()} ended with exit {code}" + (f": {text}" if text else "")
        self.write("exit", line=line, code=int(code),
                   message=text or None, hint=scrub(hint or "", *self.secrets) or None)

    def close(self) -> None:
        self.file.close()


@dataclass(frozen=True)
class JournalRecord:
    t: str
    kind: str
    line: str | None
    data: dict


def read_from(path: str | os.PathLike, offset: int = 0) -> tuple[list[JournalRecord], int]:
    """Complete records after `offset`, and the offset to read from next (a partial last line waits)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    records = []
    for raw in chunk[:end].splitlines():
        try:
            d = json.loads(raw)
        except ValueError:
            continue  # a torn line from a killed writer
        records.append(JournalRecord(d.pop("t", ""), d.pop("kind", "?"), d.pop("line", None), d))
    return records, offset + end


def find_for(pid: int | None, host: str | None) -> Path | None:
    """The newest local journal written by process `pid` on this host, if any."""
    if not pid or (host and host != socket.gethostname()):
        return None
    d = journal_dir()
    found = sorted(d.glob(f"{socket.gethostname()}-*-{pid}.jsonl"), key=lambda p: p.stat().st_mtime) if d.is_dir() else []
    return found[-1] if found else None
