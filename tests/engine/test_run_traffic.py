"""What a run costs besides the migrations themselves (issue 19: 1,000 small migrations at the
psql floor): the protocol messages it sends per migration, and the modules it loads."""
from __future__ import annotations

import json
import subprocess
import sys

from pgferry.engine.run import pipeline
from tests.support import ROOT, SMALL, log_rows, migrate, up_to


class CountingConn:
    """A libpq connection that counts the queries and Flush messages sent through it."""

    def __init__(self, pg):
        self._pg = pg
        self.queries = self.flushes = 0

    def send_query_params(self, *args):
        self.queries += 1
        return self._pg.send_query_params(*args)

    def send_flush_request(self):
        self.flushes += 1
        return self._pg.send_flush_request()

    def __getattr__(self, name):
        return getattr(self._pg, name)


def test_only_begin_the_statements_and_commit_are_flushed(database, small_defs, monkeypatch):
    """Each statement's result is flushed as it ends (progress and the lock monitor follow it),
    BEGIN's too (the first statement's) and COMMIT's (the next migration's end waits on it). The
    session restore and the success row between them ride to the COMMIT or the Sync unflushed:
    each Flush is a write on the server and a wake-up of the client, seven per migration before."""
    seen: list[CountingConn] = []
    opened = pipeline.Pipeline.__init__

    def counting(self, conn):
        opened(self, conn)
        self.pg = CountingConn(self.pg)
        seen.append(self.pg)

    monkeypatch.setattr(pipeline.Pipeline, "__init__", counting)
    graph = small_defs.schemas["aux"]
    steps = graph.up(frozenset(), [2])
    migrate(database, graph, up_to(graph, [2]))

    assert [r[0] for r in log_rows(database, "aux")] == [1, 2]  # every migration and its row committed
    statements = sum(len(s.script.statements) for s in steps)
    restore = 2  # RESET ALL, then pgferry's settings (session.session_restore)
    assert sum(c.queries for c in seen) == statements + len(steps) * (3 + restore)  # + BEGIN, row, COMMIT
    assert sum(c.flushes for c in seen) == statements + len(steps) * 2


CHILD = """
import json, sys
from pgferry.engine.definitions.catalog import load
from pgferry.engine.run.runner import Migrator

graph = load(sys.argv[2]).schemas["aux"]
with Migrator(sys.argv[1], graph) as m:
    applied = m.run(lambda done: graph.up(done, [2])).applied
print(json.dumps([applied, sorted(n for n in sys.modules if n.startswith("pgferry.engine.p"))]))
"""


def test_a_run_without_privileged_steps_loads_neither_privileges_nor_the_planner(database):
    """The privileges module (with the planner and impact model it builds on) is loaded for a
    run that has a privileged step to check grants for, not for every run."""
    run = subprocess.run([sys.executable, "-c", CHILD, database, str(SMALL)], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    applied, loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert applied == [1, 2], run.stderr
    assert loaded == [], f"loaded {loaded}"


def test_the_pipelined_success_row_writes_what_record_success_writes(database, small_defs):
    """The statement the runner pipelines (a VALUES list) and the parameterised one the other steps
    use write the same rows: the migration's with its checksums, then each squashed id backfilled."""
    import psycopg

    from pgferry.engine.bookkeeping.bookkeeping import MigrationLog

    script = small_defs.schemas["main"].migrations[10].up
    cols = ("schema, version, up, success, backfilled, host, pgferry_version, sql_checksum, sql_token_checksum, "
            "run_id, manual, confirmed_by, migration_logs_schema_version, finished_at >= started_at, "
            "backend_pid = pg_backend_pid()")
    with psycopg.connect(database, autocommit=True) as conn:
        log = MigrationLog(conn)
        log.ensure()
        conn.execute(log.success_statement("main", 10, True, script, [1, 2], 7))
        log.record_success("main", 10, True, None, script, [1, 2], 7)
        rows = conn.execute(f"SELECT {cols} FROM migration_logs ORDER BY id").fetchall()
    assert rows[:3] == rows[3:]
    assert [(r[1], r[4], r[7] is not None) for r in rows[:3]] == [(10, False, True), (1, True, False), (2, True, False)]
    assert rows[0][8] == script.token_checksum and rows[0][9] == 7
