"""`pgferry validate` and `pgferry status`: the definitions' and the databases' state, read-only."""
from __future__ import annotations

import sys

from pgferry.engine.definitions.catalog import bundled_migrations_dir, load_definitions
from pgferry.engine.errors import ExitCode
from pgferry.engine.safetext import printable

from .flags import common, definitions, dsns_of
from .output import emit_json, oob_line, print_idle_lock_holders


def register(sub) -> None:
    p = sub.add_parser("validate", help="check the definitions: graph, SQL (parsed by PostgreSQL's parser), releases, lint",
                       description="Static validation and lint of the migration definitions. Errors exit 2; warnings do not.")
    common(p, db=False)
    p.add_argument("--strict", action="store_true", help="treat lint warnings as errors")
    # A flag of validate, not a command of its own: the index is what a clean validation found,
    # written where a release build already runs validate.
    p.add_argument("--write-index", action="store_true",
                   help="when the definitions validate, write DIR/pgferry-index.json: their analysis, shipped with a "
                        "release so that its first load parses nothing (files edited since are parsed)")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("status", help="per schema: version, applied, pending, failed, in progress",
                       description="Read-only: creates nothing and takes no lock.")
    common(p)
    p.add_argument("--schema", action="append", metavar="NAME", help="only this schema (repeatable)")
    p.set_defaults(handler=cmd_status)


def cmd_validate(args) -> int:
    root = args.migrations or bundled_migrations_dir()
    written = None
    if args.write_index:
        from pgferry.engine.definitions.indexwriter import write_index

        written, findings = write_index(root, refuse_warnings=args.strict)
    else:
        _, findings = load_definitions(root)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    failed = bool(errors) or (args.strict and bool(warnings))
    if args.json:
        emit_json({"ok": not failed, "errors": [f.as_dict() for f in errors], "warnings": [f.as_dict() for f in warnings],
                   **({"index": str(written) if written else None} if args.write_index else {})})
    else:
        for f in findings:
            print(f"{f.location()}: {f.severity}: {f.message}", file=sys.stderr)
            if f.hint:
                print(f"  fix: {f.hint}", file=sys.stderr)
        print(f"{len(errors)} error(s), {len(warnings)} warning(s)", file=sys.stderr)
        if args.write_index:
            print(f"wrote {written}" if written else "index not written: the definitions do not validate", file=sys.stderr)
    return ExitCode.USAGE if failed else ExitCode.OK


def cmd_status(args) -> int:
    defs = definitions(args)
    return show_status(defs, dsns_of(args, defs), args.bookkeeping_schema, args.schema, as_json=args.json)


def show_status(defs, dsns: dict[str, str], bookkeeping_schema: str = "public", schemas=None, *,
                as_json: bool = False) -> int:
    from pgferry.engine.connection import Connections
    from pgferry.engine.upgrade.standing import read_standing

    standing = read_standing(defs, Connections(dsns, bookkeeping_schema), schemas)
    standing.refuse_unrecorded()  # the product's tables are not "empty" (exit 5)
    status, oob = standing.status, standing.out_of_band
    if as_json:
        emit_json({**status.as_dict(), "out_of_band": [r.as_dict() for r in oob]})
        return ExitCode.OK
    from pgferry.tui.states import changed_lines, schema_state
    from pgferry.tui.terminal import Lines

    out = Lines()
    out.line("database version: ", (status.version.label, "bold"))
    # Databases on their own lines: a DSN is too wide for a table column at 80 columns.
    for s in status.schemas:
        out.line(f"  {s.name}: {s.database}")
    out.table(("schema", "version", "applied", "pending", "failed", "state"),
              [(s.name, s.version or "-", str(len(s.applied)), str(len(s.pending)), str(len(s.state.failed)),
                schema_state(s)) for s in status.schemas])
    for s in status.schemas:
        for v, a in sorted(s.state.failed.items()):
            where = f" line {a.error_line}" if a.error_line else ""
            out.line(("✗", "red"), f" {printable(s.name, one_line=True)} {v}{where}: ", a.error_message or "",
                     one_line=False)
    for line in changed_lines(status):
        out.line(line)
    if oob:
        print("out-of-band:")
        for r in oob:
            print("  " + oob_line(r))
    print_idle_lock_holders(status.idle_lock_holders)
    return ExitCode.OK

