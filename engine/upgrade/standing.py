"""Where a product's databases stand, as `pgferry status` and the terminal UI's overview show it:
each schema's state, the out-of-band migrations of those schemas measured on the live data, and
whether a database that records nothing holds the product's tables all the same. The whole read
takes one session per database."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..bookkeeping.status import DatabaseStatus, read_status
from ..connection import Connections, Sessions, sessions_or_own
from ..definitions.catalog import Definitions
from ..run.oobstate import OobRow, read_states

if TYPE_CHECKING:  # the drift modules are read only for a database that records nothing
    from ..repair.drift import Unrecorded


@dataclass(frozen=True)
class Standing:
    status: DatabaseStatus
    out_of_band: tuple[OobRow, ...]  # of the selected schemas, progress measured now
    unrecorded: Unrecorded | None = None  # nothing applied, yet a database holds the product's tables

    def refuse_unrecorded(self) -> None:
        """An unrecorded database is not empty: say so (exit 5) rather than show it as one."""
        if self.unrecorded is not None:
            from ..repair.drift import UnrecordedDatabase

            raise UnrecordedDatabase(self.unrecorded)


def read_standing(defs: Definitions, conns: Connections, schemas: list[str] | None = None, *,
                  sessions: Sessions | None = None) -> Standing:
    """Read-only: creates nothing and takes no lock. `sessions`: the caller's, to read more on them."""
    with sessions_or_own(sessions) as session:
        status = read_status(defs, conns.dsns, conns.bookkeeping_schema, schemas, sessions=session)
        unrecorded = None if any(s.state.applied for s in status.schemas) else _unrecorded(defs, conns, session)
        ids = [i for i, o in sorted(defs.out_of_band.items()) if not schemas or o.schema in schemas]
        states = read_states(defs, conns.dsns, status.version, conns.bookkeeping_schema, ids,
                             sessions=session) if ids else {}
    return Standing(status, tuple(s.row() for s in states.values()), unrecorded)


def _unrecorded(defs: Definitions, conns: Connections, session: Sessions) -> Unrecorded | None:
    """The first database holding the product's tables with nothing recorded about its schemas."""
    from ..repair.drift import find_unrecorded

    for dsn in conns.distinct():
        here = [s for s in defs.schemas if conns.dsns.get(s) == dsn]
        found = find_unrecorded(session(dsn), defs, here, conns.bookkeeping_schema)
        if found is not None:
            return found
    return None
