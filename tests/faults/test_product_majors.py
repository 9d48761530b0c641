"""The bundled product on every supported PostgreSQL major installed here (tests/conftest.py
`each_major`): upgrades release by release, then a downgrade to the oldest release, through the
command line, whose drift check before each move compares the database with that release's
shipped shape (made on 18). One database walks all the way up, to keep a major to seconds."""
from __future__ import annotations

from pgferry.engine.repair.drift import check
from tests.bundled import DEFS, NEWEST, OLDEST, TARGETS, applied, expected, shape, upgrade
from pgferry.tui.cli import main


def _move(capsys, command: str, dsn: str, to: str) -> None:
    capsys.readouterr()
    code = main([command, "--to", to, "--dsn", dsn, "--yes", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert applied(dsn) == expected(to)


def test_every_release_up_then_down(capsys, each_major):
    dsn = each_major.create_database("major")
    upgrade(dsn, OLDEST)
    for target in TARGETS[1:]:
        _move(capsys, "upgrade", dsn, target)  # refused (exit 5) if the previous release looked drifted
    assert _no_drift(dsn, NEWEST)
    fresh = each_major.create_database("fresh")
    upgrade(fresh, NEWEST)
    assert shape(dsn) == shape(fresh)
    # Down in one move, from the fresh install: every down migration runs. (The walked-up database
    # holds out-of-band 3's quarter million data points, which only make the downgrade slower.)
    _move(capsys, "downgrade", fresh, OLDEST)
    assert _no_drift(fresh, OLDEST)
    each_major.drop_database(dsn)
    each_major.drop_database(fresh)


def _no_drift(dsn: str, version: str) -> bool:
    [report] = check(DEFS, {s: dsn for s in DEFS.schemas})
    assert report.version == version and [d.as_dict() for d in report.differences] == []
    return True
