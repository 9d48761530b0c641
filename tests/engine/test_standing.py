"""Where the databases stand (`pgferry status`, the UI's overview) is read with one session per
database, whatever parts the read has: each schema's state, the out-of-band rows, the check that an
empty-looking database does not hold the product unrecorded, the server and the latest run."""
from __future__ import annotations

import json

import psycopg
import pytest

from pgferry.engine.run.oobstate import OobRow
from pgferry.tui.app.data import Source, load_overview
from tests.fixtures.synthetic import write_out_of_band
from tests.support import cli


@pytest.fixture
def sessions(monkeypatch) -> list[str]:
    """The DSN of every session opened from now on."""
    opened: list[str] = []
    real = psycopg.connect
    monkeypatch.setattr(psycopg, "connect", lambda dsn, *a, **k: opened.append(dsn) or real(dsn, *a, **k))
    return opened


@pytest.fixture
def product(small_copy):
    """The small product with an out-of-band migration of aux, half done by its own measure."""
    write_out_of_band(small_copy, 1, schema="aux", introduced="1.0.0", progress="SELECT 0.5\n")
    return small_copy


@pytest.fixture
def aux_database(pg_server):
    dsn = pg_server.create_database()
    yield dsn
    pg_server.drop_database(dsn)


def flags(database: str, aux_database: str, product) -> list[str]:
    return ["--dsn", database, "--schema-dsn", f"aux={aux_database}", "--migrations", str(product)]


def test_status_opens_one_session_per_database(capsys, database, aux_database, product, sessions):
    rc, _, err = cli(capsys, "up", *flags(database, aux_database, product))
    assert rc == 0, err
    sessions.clear()
    rc, out, err = cli(capsys, "status", "--json", *flags(database, aux_database, product))
    assert rc == 0, err
    assert sorted(sessions) == sorted([database, aux_database])
    oob = json.loads(out)["out_of_band"]
    assert [(o["id"], o["reached"], o["progress"]) for o in oob] == [(1, True, 0.5)]


def test_status_of_empty_databases_opens_one_session_each(capsys, database, aux_database, product, sessions):
    rc, _, err = cli(capsys, "status", *flags(database, aux_database, product))
    assert rc == 0, err  # nothing recorded and none of the product's tables: empty, not unrecorded
    assert sorted(sessions) == sorted([database, aux_database])


def test_the_overview_reads_typed_rows_on_one_session_per_database(capsys, database, aux_database, product,
                                                                    sessions):
    rc, _, err = cli(capsys, "up", *flags(database, aux_database, product))
    assert rc == 0, err
    sessions.clear()
    overview = load_overview(Source(migrations=str(product), dsn=database, schema_dsn=(f"aux={aux_database}",)))
    assert sorted(sessions) == sorted([database, aux_database])
    assert [(type(r), r.id, r.progress) for r in overview.out_of_band] == [(OobRow, 1, 0.5)]
    assert overview.server and overview.status.version.label == "1.2.0"
