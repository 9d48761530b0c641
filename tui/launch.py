"""Starting an upgrade in its own process, detached from the terminal (docs/design.md §12).

The child is `pgferry upgrade --yes --journal auto` in a new session: closing the UI or
losing SSH sends it no SIGHUP, and its state is in the database and its journal. DSNs reach it
through the environment, never the command line (any local user can read a command line).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pgferry.engine.userdirs import open_private
from pgferry.tui.journal import private_journal_dir


@dataclass(frozen=True)
class Launched:
    pid: int
    host: str
    output: Path  # the child's stdout and stderr, for failures before its journal opens

    def exit_code(self) -> int | None:
        """The child's exit status if it has ended (only its parent can reap it), else None."""
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return -1  # not our child any more (a reattached run): liveness comes from the database
        if pid == 0:
            return None
        return os.waitstatus_to_exitcode(status)


def command(direction: str, to_version: str, cli_args: list[str], channel: str | None = None) -> list[str]:
    verb = "downgrade" if direction == "downgrade" else "upgrade"
    args = [sys.executable, "-m", "pgferry", verb, "--to", to_version, "--yes", "--no-progress", "--journal", "auto",
            *cli_args]
    if channel:
        args += ["--channel", channel]
    return args


def start(direction: str, to_version: str, cli_args: list[str], env: dict[str, str],
          channel: str | None = None) -> Launched:
    d = private_journal_dir()
    output = d / f"{socket.gethostname()}-launch-{os.getpid()}-{len(os.listdir(d))}.out"
    fd = open_private(output)
    try:
        child = subprocess.Popen(
            command(direction, to_version, cli_args, channel),
            stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # no controlling terminal: a hang-up does not reach it
            close_fds=True,
        )
    finally:
        os.close(fd)
    _children.append(child)  # keeps Popen from warning that its child still runs when collected
    return Launched(child.pid, socket.gethostname(), output)


_children: list[subprocess.Popen] = []
