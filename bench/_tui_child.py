"""Child process for the TUI scenarios: `python -m bench._tui_child MIGRATIONS DSN`.

Runs the real app (tui.app.PgferryApp) on the terminal it was given, reading `MIGRATIONS` and
the database `DSN`: the same app `pgferry` opens, with a migrations directory the command
line does not offer (the 10,000-migration history). The parent drives it through a pty.
"""
from __future__ import annotations

import sys


def main() -> None:
    from pgferry.tui.app import PgferryApp
    from pgferry.tui.app.data import Source

    app = PgferryApp(Source(migrations=sys.argv[1], dsn=sys.argv[2]))
    app.run()


if __name__ == "__main__":
    main()
