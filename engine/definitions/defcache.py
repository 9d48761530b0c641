"""Loaded definitions kept between commands, keyed by every file's size and modification time.

Loading a thousand migrations reads 3,000 files and parses 2,000: about a second of a command's
start. A command run again on the same, unchanged folder (`plan` then `upgrade`, `status` in a
loop, the TUI after `validate`) gets the same definitions from here in a fraction of that.

Safe by construction rather than by care:
- only a clean load is kept (no errors); the key is every file's path, size and mtime_ns, plus
  pgferry's version, so any edit, added or removed file, or upgrade of pgferry misses;
- a folder with a file modified in the last two seconds is not kept: mtimes are coarse, so a
  quick second edit of the same size could keep the same stamp (git's "racy" rule);
- the file is the user's own (mode 0600 in a 0700 directory, owner checked before reading), and
  anything unreadable, foreign or stale is ignored and rewritten.

PGFERRY_CACHE_DIR moves it; PGFERRY_CACHE_DIR=off turns it off.
"""
from __future__ import annotations

import copyreg
import hashlib
import os
import pickle
import stat
import time
from pathlib import Path
from types import MappingProxyType

from pgferry import __version__

from ..userdirs import open_private, private_dir
from .definitions import max_file_mb

RACY_SECONDS = 2.0
_FORMAT = 2  # 2: releases carry compatible_with


def _proxy(d: dict) -> MappingProxyType:
    return MappingProxyType(d)


# Definitions hold read-only mappings; pickle cannot store a mappingproxy itself.
copyreg.pickle(MappingProxyType, lambda m: (_proxy, (dict(m),)))


def _own_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("pgferry"))


def cache_dir() -> Path | None:
    where = os.environ.get("PGFERRY_CACHE_DIR")
    if where == "off":
        return None
    if where:
        return Path(where)
    return _own_root() / "definitions"


def fingerprint(root: Path) -> tuple[str, float] | None:
    """(digest of every file's path, size and mtime under root, newest mtime), None if unreadable."""
    # The folder as given (Definitions keep that spelling; a relative one depends on the working
    # directory) and pgferry's own code: an unreleased change of the engine must miss too.
    where = str(root) if root.is_absolute() else f"{os.getcwd()}:{root}"
    # The size limit too: definitions loaded under a larger one are not valid under a smaller one.
    h = hashlib.blake2b(f"{__version__}:{_FORMAT}:{where}:{root.resolve()}:{max_file_mb()}".encode(), digest_size=20)
    h.update(_code_stamp())
    newest = 0.0
    stack = [str(root)]
    try:
        while stack:
            d = stack.pop()
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
            for e in entries:
                st = e.stat(follow_symlinks=True)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(e.path)
                    h.update(f"D{e.path}\0".encode())
                else:
                    h.update(f"F{e.path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
                    newest = max(newest, st.st_mtime)
    except OSError:
        return None
    return h.hexdigest(), newest


_CODE: bytes | None = None


def _code_stamp() -> bytes:
    global _CODE
    if _CODE is None:
        engine = Path(__file__).resolve().parents[1]  # every module of the engine, in every subpackage
        _CODE = "".join(f"{p.relative_to(engine)}:{st.st_size}:{st.st_mtime_ns};" for p in sorted(engine.rglob("*.py"))
                        for st in [p.stat()]).encode()
    return _CODE


def _file(root: Path) -> Path | None:
    d = cache_dir()
    if d is None:
        return None
    return d / (hashlib.blake2b(str(root.resolve()).encode(), digest_size=12).hexdigest() + ".pickle")


def read(root: Path, key: str):
    """The definitions stored for `root` under `key`, or None."""
    path = _file(root)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_uid != os.getuid() or st.st_mode & 0o077:
                return None  # not ours alone: never unpickle it
            stored_key, defs = pickle.load(f)
    except Exception:  # noqa: BLE001 - missing, truncated, from another version: load afresh
        return None
    return defs if stored_key == key else None


def write(root: Path, key: str, newest: float, defs) -> None:
    path = _file(root)
    if path is None or time.time() - newest < RACY_SECONDS:
        return
    try:
        # A folder named by PGFERRY_CACHE_DIR is the user's: created owner-only if missing, never chmod-ed.
        private_dir(path.parent, None if os.environ.get("PGFERRY_CACHE_DIR") else _own_root())
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        with os.fdopen(open_private(tmp), "wb") as f:
            pickle.dump((key, defs), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
        _prune(path.parent)
    except Exception:  # noqa: BLE001 - a cache that cannot be written is only slower
        try:
            os.unlink(tmp)
        except Exception:  # noqa: BLE001
            pass


KEEP = 16  # folders remembered; the least recently written go first


def _prune(d: Path) -> None:
    files = sorted(d.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        old.unlink(missing_ok=True)
    for tmp in d.glob(".*.pickle.*"):  # left by a process killed while writing
        if time.time() - tmp.stat().st_mtime > 3600:
            tmp.unlink(missing_ok=True)
