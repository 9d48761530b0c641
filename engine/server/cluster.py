"""A PostgreSQL installation's binaries and a cluster's data directory, and running its programs.

PostgreSQL's server programs refuse to run as root and must run as the data directory's owner:
when pgferry itself runs as root they run as that owner (as `sudo -u postgres` would).
"""
from __future__ import annotations

import os
import pwd
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import PgferryError
from ..safetext import printable
from ..upgrade.backup import wheel_bin_dir


class ProgramFailed(PgferryError):
    """A PostgreSQL program (pg_ctl, initdb, pg_upgrade, vacuumdb) exited non-zero (exit 1)."""


@dataclass(frozen=True)
class Binaries:
    """One installation's bin directory (`--old-bindir`, `--new-bindir`)."""

    bindir: Path

    def program(self, name: str) -> Path:
        path = self.bindir / name
        if not os.access(path, os.X_OK):
            raise ProgramFailed(f"{path} is missing or not executable",
                                hint=f"pass the bin directory of a PostgreSQL installation that has {name}")
        return path

    def major(self) -> int:
        out = subprocess.run([str(self.program("postgres")), "--version"], capture_output=True, text=True,
                             check=False).stdout
        found = re.search(r"\)\s+(\d+)", out)  # "postgres (PostgreSQL) 15.14 (Debian ...)"
        if not found:
            raise ProgramFailed(f"{self.bindir}/postgres --version said {printable(out.strip())!r}")
        return int(found.group(1))

    def config(self, flag: str) -> str:
        return subprocess.run([str(self.program("pg_config")), flag], capture_output=True, text=True,
                              check=True).stdout.strip()

    def extension_dir(self) -> Path:
        """Where its extensions' control files are: `pg_config --sharedir` + /extension (Debian's
        /usr/share/postgresql/15, the embedded wheel's pginstall/share)."""
        return Path(self.config("--sharedir")) / "extension"

    def available_extensions(self) -> dict[str, str | None]:
        """{extension: its default version} from the control files."""
        out = {}
        for control in sorted(self.extension_dir().glob("*.control")):
            found = re.search(r"^\s*default_version\s*=\s*'([^']*)'", control.read_text(errors="replace"), re.M)
            out[control.stem] = found.group(1) if found else None
        return out

    def has_icu(self) -> bool:
        """ICU is built in when configured --with-icu, and from 16 on unless --without-icu."""
        configured = self.config("--configure")
        return "--with-icu" in configured if self.major() < 16 else "--without-icu" not in configured


def owner_of(datadir: Path) -> str | None:
    """The user PostgreSQL's programs run as: the data directory's owner when pgferry runs as root."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwuid(datadir.stat().st_uid).pw_name


def give_to(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def run(program: Path, *args: str, user: str | None, cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run([str(program), *args], user=user, cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise ProgramFailed(f"{program.name} failed (exit {done.returncode}): "
                            f"{printable((done.stderr.strip() or done.stdout.strip())[-2000:], one_line=False)}")
    return done.stdout


def stream(program: Path, *args: str, user: str | None, cwd: Path, on_line: Callable[[str], None],
           env: dict | None = None) -> None:
    """Run a program, handing each line of its output to `on_line` as it comes (progress)."""
    proc = subprocess.Popen([str(program), *args], user=user, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    tail: list[str] = []
    for line in _lines(proc):
        tail = (tail + [line])[-20:]
        on_line(line)
    if proc.wait() != 0:
        raise ProgramFailed(f"{program.name} failed (exit {proc.returncode}): "
                            f"{printable(chr(10).join(tail), one_line=False)}")


def _lines(proc: subprocess.Popen) -> Iterator[str]:
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip()
        if line.strip():
            yield printable(line)


def is_running(datadir: Path) -> bool:
    """A postmaster.pid whose process is alive."""
    try:
        pid = int((datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


# -- proposals for the terminal UI: where the running server's binaries are, and newer ones --------

def running_bindir(datadir: Path) -> Path | None:
    """The bin directory of the postmaster running on `datadir` (its executable, read from /proc)."""
    try:
        pid = int((datadir / "postmaster.pid").read_text().split()[0])
        return Path(os.readlink(f"/proc/{pid}/exe")).parent
    except (OSError, ValueError, IndexError):
        return None


def installed_bindirs() -> list[Path]:
    """Bin directories of the PostgreSQL servers installed here: Debian's layout, then the embedded wheel's."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    wheel = wheel_bin_dir()
    return [d for d in [*found, wheel] if d is not None and os.access(d / "postgres", os.X_OK)]
