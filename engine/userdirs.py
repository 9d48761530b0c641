"""pgferry's own folders on this machine (the definitions cache, run journals): owner-only.

They hold pickled definitions (loaded back into the process) and journals naming tables and hosts.
`Path.mkdir(parents=True, mode=0o700)` gives that mode to the last folder only: the parents it
creates (`~/.cache/pgferry`, even `~/.cache`) get 0777 minus the umask, so 0777 under umask 000.
"""
from __future__ import annotations

import errno
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


PRIVATE_FILE = 0o600


class SymlinkRefused(OSError):
    """`open_private` was given a symbolic link: it could point anywhere (another user's file, a system one)."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(errno.ELOOP, f"{path} is a symbolic link; refusing to write through it", str(path))


def open_private(path: str | os.PathLike, *, append: bool = False, exclusive: bool = False) -> int:
    """A descriptor open for writing on a file the owner alone can read (0600), whatever the umask.

    Never through a symbolic link (SymlinkRefused). A file that exists already is tightened to 0600
    (O_CREAT's mode applies to a new file only) and truncated, or appended to with `append`;
    `exclusive` refuses one (FileExistsError). Raises OSError when it cannot, e.g. PermissionError
    when the file belongs to someone else."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_EXCL if exclusive else 0) | (os.O_APPEND if append else 0)
    try:
        fd = os.open(path, flags, PRIVATE_FILE)
    except OSError as exc:
        if exc.errno != errno.ELOOP or not os.path.islink(path):
            raise
        if not _stream(path):
            raise SymlinkRefused(path) from None
        # `--out /dev/stdout`: a link to a terminal, pipe or device holds no file to leak or clobber.
        fd = os.open(path, os.O_WRONLY | (os.O_APPEND if append else 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return fd  # a stream: no mode to tighten, nothing to truncate
    try:
        os.fchmod(fd, PRIVATE_FILE)
        if not (append or exclusive):
            os.ftruncate(fd, 0)  # after fchmod, not O_TRUNC: a file we may not own is left as it was
    except OSError:
        os.close(fd)
        raise
    return fd


def _stream(path) -> bool:
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def write_private(path: str, text: str) -> None:
    """Files pgferry writes are readable by their owner only: they can hold schema details."""
    with os.fdopen(open_private(path), "w") as f:
        f.write(printable(text))  # a terminal may `cat` it: control characters from the server shown escaped
