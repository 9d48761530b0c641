"""pgferry's own folders on this machine (the definitions cache, run journals): owner-only.

They hold pickled definitions (loaded back into the process) and journals naming tables and hosts.
`Path.mkdir(parents=True, mode=0o700)` gives that mode to the last folder only: the parents it
creates (`~/.cache/pgferry`, even `~/.cache`) get 0777 minus the umask, so 0777 under umask 000.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .safetext import printable

PRIVATE_DIR = 0o700


def private_dir(path: Path, own_root: Path | None = None) -> Path:
    """Make `path` exist with every folder it creates owner-only (0700), whatever the umask.

    `own_root` is pgferry's own top folder (e.g. ~/.cache/pgferry) above `path`: folders from it
    down that exist already, made by an older pgferry under a lax umask, are tightened too. Folders
    above it (~/.cache) are only created when missing, never changed."""
    missing = []
    here = path
    while not here.is_dir():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, PRIVATE_DIR)  # the umask can only narrow this: owner-only whatever it is
        except FileExistsError:
            pass  # made meanwhile by another pgferry process
    if own_root is not None and path.is_relative_to(own_root):
        d = own_root
        _tighten(d)
        for part in path.relative_to(own_root).parts:
            d = d / part
            _tighten(d)
    return path


def _tighten(d: Path) -> None:
    st = os.lstat(d)
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077:
        os.chmod(d, PRIVATE_DIR)


def write_private(path: str, text: str) -> None:
    """Files pgferry writes are readable by their owner only: they can hold schema details."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode above applies only to a new file; an existing one keeps its own
    with os.fdopen(fd, "w") as f:
        f.write(printable(text))  # a terminal may `cat` it: control characters from the server shown escaped
