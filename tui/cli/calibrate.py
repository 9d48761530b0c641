"""`pgferry calibrate`: measure the server's throughputs that plan estimates use."""
from __future__ import annotations

from pgferry.engine.errors import ExitCode, UsageError

from .flags import common, conns_of, definitions
from .output import emit_json


def register(sub) -> None:
    from pgferry.engine.upgrade.calibrate import DEFAULT_SIZE_MB

    p = sub.add_parser("calibrate", help="measure scan, rewrite and index-build throughput for plan estimates",
                       description="Times a sequential scan, a table rewrite (ALTER COLUMN TYPE), an index build and "
                       "catalog-only statements on a temporary scratch table (no CREATE privilege needed, nothing left "
                       "behind), and stores the figures in the bookkeeping table `calibrations` of the first schema's "
                       "database with the server's version and the time. `plan` then marks its estimates "
                       "\"calibrated\"; before, they use built-in defaults marked \"default\".")
    common(p)
    p.add_argument("--size", type=int, default=DEFAULT_SIZE_MB, metavar="MB",
                   help=f"size of the scratch table in MB (default {DEFAULT_SIZE_MB}: a few seconds)")
    p.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args) -> int:
    from pgferry.engine.upgrade.calibrate import calibrate

    if args.size < 1:
        raise UsageError(f"--size {args.size}: the scratch table needs at least 1 MB", hint="e.g. --size 32")
    conns = conns_of(args, definitions(args))
    figures = calibrate(conns.primary, conns.bookkeeping_schema, args.size)
    if args.json:
        emit_json(figures.as_dict())
        return ExitCode.OK
    print(f"calibrated on PostgreSQL {figures.server_version} at {figures.measured_at:%Y-%m-%d %H:%M:%S %Z}")
    print(f"  scan           {figures.scan_mb_s:8.1f} MB/s")
    print(f"  rewrite        {figures.rewrite_mb_s:8.1f} MB/s")
    print(f"  index build    {figures.index_mb_s:8.1f} MB/s")
    print(f"  catalog only   {figures.catalog_s * 1000:8.1f} ms per statement")
    print("plans now estimate with these figures (basis \"calibrated\")")
    return ExitCode.OK
