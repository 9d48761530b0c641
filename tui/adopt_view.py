"""Plain-text rendering of an adoption (`pgferry adopt`, and the app's adopt screen): what each
database showed against the release, and what adopting records or why it is refused."""
from __future__ import annotations

from pgferry.engine.repair.differences import fix_script

from .drift_view import render_differences


def lines(adoption) -> list[str]:
    """What was found, per database, and what adopting would record (or why it is refused)."""
    out: list[str] = []
    for db in adoption.databases:
        verdict = "matches" if db.matches else "DIFFERS from"
        out.append(f"{db.database}: {', '.join(db.schemas)} · {verdict} release {adoption.release}")
        render_differences(db.differences, db.ignored, out.append)
        for o in db.out_of_band:
            state = o.problem or (f"out-of-band {o.oob.id}: {o.progress:.1%} ({o.reason})" +
                                  (", required complete" if o.required_complete else ""))
            out.append(f"  {'✗ ' if o.blocks else ''}{state}")
        if db.hint:
            out.append(f"  hint: {db.hint}")
        for schema, ids in db.record.items():
            out.append(f"  {schema}: {len(ids)} migration(s) to record as backfilled ({_span(ids)})")
    if not adoption.matches:
        fixes = [s for db in adoption.databases for s in fix_script(db.differences)]
        n = sum(len(db.differences) for db in adoption.databases)
        unfinished = sum(o.blocks for db in adoption.databases for o in db.out_of_band)
        why = [f"{n} difference(s) from {adoption.release}"] if n else []
        why += [f"{unfinished} out-of-band migration(s) not complete"] if unfinished else []
        out.append(f"refused: {' and '.join(why)}; nothing was recorded")
        if fixes:
            out.append("fix SQL (review it; statements with CONCURRENTLY must run outside a transaction):")
            out += [f"  {line}" for s in fixes for line in s.splitlines()]
        out.append("then adopt again, or try the release the database really is at (`pgferry adopt --release V`)")
    else:
        out.append(f"{adoption.migrations} migration(s) of {adoption.release} to record as backfilled, confirmed by "
                   f"{adoption.operator}")
    return out


def _span(ids) -> str:
    return f"{ids[0]} … {ids[-1]}" if len(ids) > 2 else ", ".join(map(str, ids))
