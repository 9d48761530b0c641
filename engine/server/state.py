"""The server upgrade's state file: each step recorded as it starts and completes, owner-only, in a
folder beside the new data directory, so that an interrupted upgrade (a SIGKILL, a power loss)
can be answered by the next `pgferry server-upgrade`: where it was, and what is safe from there.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..userdirs import open_private, private_dir

# The steps in order. Before "stop-old" nothing of the old cluster has changed.
STEPS = ("initdb", "check", "backup", "stop-old", "pg_upgrade", "configure", "start-new", "extensions",
         "analyze", "verify")


def work_dir(new_datadir: Path) -> Path:
    """`<new-datadir>.pgferry/`: the state file, pg_upgrade's working folder, the new server's log."""
    return new_datadir.with_name(new_datadir.name + ".pgferry")


@dataclass
class State:
    mode: str
    old_datadir: str
    new_datadir: str
    old_bindir: str
    new_bindir: str
    release: str | None  # the product's release before the upgrade: the same one after it
    old_options: str = ""  # how the old server listened (pg_ctl -o), to start it again on a rollback
    initdb_args: list[str] = field(default_factory=list)  # the new cluster made like the old (again on a resume)
    settings: dict[str, str] = field(default_factory=dict)  # carried over to the new postgresql.conf
    jobs: int = 1
    done: list[str] = field(default_factory=list)
    current: str | None = None  # the step under way when the file was last written
    finished: bool = False

    @property
    def bootstrap_user(self) -> str:
        return self.initdb_args[self.initdb_args.index("-U") + 1]

    @property
    def path(self) -> Path:
        return work_dir(Path(self.new_datadir)) / "state.json"

    def begin(self, step: str) -> None:
        self.current = step
        self.save()

    def complete(self, step: str) -> None:
        if step not in self.done:
            self.done.append(step)
        self.current = None
        self.finished = step == STEPS[-1]
        self.save()

    def reached(self, step: str) -> bool:
        return step in self.done

    def save(self) -> None:
        """Written whole to a temporary file and renamed over: a crash leaves the old or the new one."""
        private_dir(self.path.parent)
        tmp = self.path.with_suffix(".tmp")
        with os.fdopen(open_private(tmp), "w") as f:
            json.dump(asdict(self), f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @property
    def old_changed(self) -> bool:
        return "stop-old" in self.done or self.current == "stop-old"

    @property
    def new_started(self) -> bool:
        return "start-new" in self.done or self.current == "start-new"

    def position(self) -> str:
        """Where it stopped, in a sentence."""
        if self.finished:
            return "the upgrade finished"
        last = self.done[-1] if self.done else None
        if self.current:
            return f"interrupted during {self.current}" + (f" (after {last})" if last else "")
        return f"stopped after {last}" if last else "nothing done yet"

    def rollback_possible(self) -> bool:
        """The old cluster can serve again: copy and clone never touch it; link shares its files
        with the new cluster once the new server has started (and written to them)."""
        return not self.finished and (self.mode != "link" or not self.new_started)

    def safe_actions(self) -> list[str]:
        if self.finished:
            return []
        out = [f"resume: pgferry server-upgrade --resume (continues with {self.next_step()})"]
        if not self.old_changed:
            out.append("roll back: pgferry server-upgrade --rollback (the old server never stopped: it only "
                       "sets the new cluster aside)")
        elif self.rollback_possible():
            out.append("roll back: pgferry server-upgrade --rollback (starts the old cluster again"
                       + (", its pg_control restored)" if self.mode == "link" else ")"))
        else:
            out.append("no roll back: link mode, and the new server has started on the shared files; "
                       "restore the backup taken before the upgrade if the new cluster is unusable")
        return out

    def next_step(self) -> str:
        if self.current:
            return self.current
        left = [s for s in STEPS if s not in self.done]
        return left[0] if left else "nothing"

    def as_dict(self) -> dict:
        return {**asdict(self), "position": self.position(), "safe": self.safe_actions(),
                "rollback_possible": self.rollback_possible()}


def load(new_datadir: Path) -> State | None:
    path = work_dir(new_datadir) / "state.json"
    if not path.is_file():
        return None
    return State(**json.loads(path.read_text()))
