"""What the server upgrade screen knows (no Textual here): the four directories and the mode the
operator settles on (proposed from the connected server), the job they make for engine/server/,
an interrupted upgrade found beside the new data directory, and the run's steps as its events come.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg

from pgferry.engine.connection import connect
from pgferry.engine.errors import UsageError
from pgferry.engine.events import ServerOutput, ServerStep
from pgferry.engine.server.cluster import Binaries, installed_bindirs, running_bindir
from pgferry.engine.server.modes import MODES
from pgferry.engine.server.plan import Cluster, ServerUpgrade
from pgferry.engine.server.state import STEPS, State, load

from .data import Source

FIELDS = ("old_bindir", "new_bindir", "old_datadir", "new_datadir", "backup_dir", "no_backup")
LABELS = {"old_bindir": "old bindir", "new_bindir": "new bindir", "old_datadir": "old datadir",
          "new_datadir": "new datadir", "backup_dir": "backup into", "no_backup": "no backup:",
          "to_version": "to version"}


@dataclass(frozen=True)
class Form:
    """pg_upgrade's names, as typed (or proposed); `no_backup` is the reason to go without one."""

    old_bindir: str = ""
    new_bindir: str = ""
    old_datadir: str = ""
    new_datadir: str = ""
    mode: str = "copy"
    backup_dir: str = ""
    no_backup: str = ""

    def missing(self) -> list[str]:
        return [LABELS[n] for n in FIELDS[:4] if not getattr(self, n).strip()]

    def backup_reason(self) -> str | None:
        """Why a start must wait for the backup question (link mode only), or None."""
        if MODES[self.mode].needs_backup and not (self.backup_dir.strip() or self.no_backup.strip()):
            return "link mode needs a backup directory, or a reason typed to go without one"
        return None

    def backup_note(self) -> str:
        if self.backup_dir.strip():
            return f"pg_dumpall into {self.backup_dir} before the old server stops"
        if self.no_backup.strip():
            return f"none: {self.no_backup}"
        return "none (type a directory in 'backup into' to take one)"

    def job(self, source: Source, jobs: int = 1) -> ServerUpgrade:
        if self.missing():
            raise UsageError(f"the server upgrade needs {', '.join(self.missing())}")
        defs = source.definitions()
        return ServerUpgrade(defs, source.connections(), Cluster(Binaries(Path(self.old_bindir)), Path(self.old_datadir)),
                             Cluster(Binaries(Path(self.new_bindir)), Path(self.new_datadir)), MODES[self.mode], jobs,
                             Path(self.backup_dir) if self.backup_dir.strip() else None, self.no_backup.strip() or None)

    @classmethod
    def of_state(cls, state: State) -> Form:
        """The form an interrupted upgrade was started with: resume needs the same clusters."""
        return cls(state.old_bindir, state.new_bindir, state.old_datadir, state.new_datadir, state.mode)


@dataclass(frozen=True)
class Proposal:
    """What the connected server says about itself, as a starting form (every field stays editable)."""

    form: Form
    server_major: int
    managed: bool  # no data directory here to upgrade: the provider's checklist instead
    note: str  # how the proposal was made, or why the server looks managed
    interrupted: State | None = None


def propose(source: Source) -> Proposal:
    dsn = next(iter(source.connections().distinct()))
    with connect(dsn, role="server-upgrade") as conn:
        major = conn.info.server_version // 10000
        try:
            datadir = Path(conn.execute("SHOW data_directory").fetchone()[0])
        except psycopg.errors.InsufficientPrivilege:
            return Proposal(Form(), major, True, "SHOW data_directory needs a superuser (or pg_read_all_settings): "
                            "treated as a managed service")
    if not (datadir / "PG_VERSION").is_file():
        return Proposal(Form(), major, True, f"the server's data directory ({datadir}) is not on this machine: "
                        "a managed service, or another host")
    interrupted = unfinished(datadir)  # connected to the new server of an interrupted upgrade
    if interrupted is not None:
        return Proposal(Form.of_state(interrupted), major, False, "an interrupted upgrade's new server", interrupted)
    newer = [(m, d) for d in installed_bindirs() if (m := Binaries(d).major()) > major]
    new_bindir, new_major = (str(newer[-1][1]), newer[-1][0]) if newer else ("", None)
    new_datadir = datadir.with_name(f"{datadir.name}-{new_major}") if new_major else None
    old_bindir = running_bindir(datadir)
    form = Form(str(old_bindir or ""), new_bindir, str(datadir), str(new_datadir or ""))
    note = (f"proposed from the connected PostgreSQL {major}"
            + ("" if newer else "; no newer PostgreSQL installed here: type the new bindir"))
    return Proposal(form, major, False, note, unfinished(new_datadir) if new_datadir else None)


def unfinished(new_datadir: Path | None) -> State | None:
    """The state file of an upgrade to `new_datadir` that did not finish."""
    path = Path(str(new_datadir or "").strip())
    if not path.name:  # nothing typed yet, or "/" on the way to a path
        return None
    state = load(path)
    return state if state is not None and not state.finished else None


# -- the keys on an interrupted upgrade --------------------------------------------------------------

def resume_reason(state: State | None) -> str | None:
    return "no interrupted upgrade recorded beside the new data directory" if state is None else None


def rollback_reason(state: State | None) -> str | None:
    if state is None:
        return "no interrupted upgrade recorded beside the new data directory"
    if not state.rollback_possible():
        return "link mode after the new server started: restore the backup instead"
    return None


# -- the run ------------------------------------------------------------------------------------------

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


@dataclass
class Progress:
    """Each step's status and the log of what the programs said, from ServerStep/ServerOutput events."""

    steps: dict[str, str] = field(default_factory=lambda: dict.fromkeys(STEPS, PENDING))
    log: list[str] = field(default_factory=list)

    @classmethod
    def of_state(cls, state: State) -> Progress:
        """Resuming: what the state file says is done already."""
        p = cls()
        for step in state.done:
            p.steps[step] = DONE
        return p

    def apply(self, event) -> str | None:
        """The log line the event adds (None: nothing to log)."""
        if isinstance(event, ServerStep):
            if event.step in self.steps:
                self.steps[event.step] = RUNNING if event.status == "started" else DONE
            mark = "▶" if event.status == "started" else "✓"
            line = f"{mark} {event.step}" + (f": {event.detail}" if event.detail else "")
        elif isinstance(event, ServerOutput):
            line = f"    {event.line}"
        else:
            return None
        self.log.append(line)
        return line

    def failed(self) -> None:
        for step, status in self.steps.items():
            if status == RUNNING:
                self.steps[step] = FAILED

    @property
    def current(self) -> str | None:
        return next((s for s, status in self.steps.items() if status == RUNNING), None)


def with_field(form: Form, name: str, value: str) -> Form:
    return replace(form, **{name: value})
