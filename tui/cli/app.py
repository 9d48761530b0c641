"""The terminal UI opened from the command line: `pgferry` with no command, `watch` and `demo`."""
from __future__ import annotations


def app_source(args, watch: bool = False, superuser_dsn: str | None = None):
    from pgferry.tui.app import Source

    return Source(migrations=args.migrations, dsn=args.dsn, schema_dsn=tuple(args.schema_dsn),
                  bookkeeping_schema=args.bookkeeping_schema, superuser_dsn=superuser_dsn, read_only=watch)


def cmd_app(args, watch: bool = False, source=None) -> int:
    from pgferry.tui.app import PgferryApp

    # A refusal here (an unknown theme) is a PgferryError: the command line's one mapping prints it.
    app = PgferryApp(source or app_source(args, watch), theme=args.theme, watch_run=(args.run or 0) if watch else None)
    app.run()
    return int(app.return_code or 0)
