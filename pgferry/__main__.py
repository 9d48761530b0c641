"""`python -m pgferry` and the `pgferry` command: the process entry.

Ctrl-C can come at any instant. Importing the command line takes a while (psycopg, the engine's
modules); an interrupt meanwhile has nothing to undo, so it ends the process with one line and exit
130, never a traceback from inside an import. pgferry.tui.cli.entry takes over from there (what a
command imports later, in its handler, `main` answers like any other interrupt)."""
import os
import signal


def _interrupted_at_start(signum, frame) -> None:
    os.write(2, b"interrupted: nothing was started\n")
    os._exit(130)


def run() -> None:
    signal.signal(signal.SIGINT, _interrupted_at_start)
    from pgferry.tui.cli import entry

    entry()


if __name__ == "__main__":
    run()
