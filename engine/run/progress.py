"""An out-of-band migration's progress measured now by its progress.sql, read-only (docs/design.md §5):
what `check --release` and `status` rely on, never the figure a run recorded."""
from __future__ import annotations

from typing import Sequence

import psycopg

from ..connection import is_connection_loss
from ..definitions.outofband import OutOfBand
from ..errors import server_message
from ..safetext import printable

MEASURED = "measured by progress.sql"
Measure = tuple[float, bool, str]  # progress, measured (progress.sql answered), why


def measure(conn: psycopg.Connection, o: OutOfBand) -> Measure:
    """progress.sql now, in a read-only transaction. A query that fails (its table or column does
    not exist: the schema is elsewhere than the definitions expect) counts as not started."""
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            value = conn.execute(o.progress.statements[0].text).fetchone()[0]
    except psycopg.Error as exc:
        if is_connection_loss(exc):
            raise
        message = printable(server_message(exc).text, one_line=True)
        return 0.0, False, f"progress.sql failed ({message}): counted as not started"
    return _fraction(value), True, MEASURED


def measure_all(conn: psycopg.Connection, oobs: Sequence[OutOfBand]) -> dict[int, Measure]:
    """`measure` of each of `oobs` on one idle autocommit session (a probe's, a status read's): every
    progress.sql as one column of one read-only statement, one round trip; when any of them fails,
    each is measured on its own, so that only the failing one counts as not started."""
    if not oobs:
        return {}
    if not conn.autocommit or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return {o.id: measure(conn, o) for o in oobs}  # its COMMIT would end the caller's transaction
    # One column each; on lines of their own, so that a trailing comment ends at its line.
    columns = ", ".join(f"(\n{o.progress.statements[0].text}\n)" for o in oobs)
    try:
        # Simple protocol, no parameters: the three statements travel as one message (nothing is
        # %-formatted into the text).
        cur = conn.execute(f"BEGIN READ ONLY; SELECT {columns}; COMMIT")
        cur.nextset()
        row = cur.fetchone()
    except psycopg.Error as exc:
        if is_connection_loss(exc):
            raise
        conn.rollback()  # out of the failed transaction
        return {o.id: measure(conn, o) for o in oobs}
    return {o.id: (_fraction(v), True, MEASURED) for o, v in zip(oobs, row)}


def _fraction(value) -> float:
    return min(1.0, max(0.0, float(value if value is not None else 0.0)))
