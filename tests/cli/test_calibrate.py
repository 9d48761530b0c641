"""`pgferry calibrate`: the figures printed and stored, and a size it refuses."""
from __future__ import annotations

import json

from tests.support import SMALL, cli, query


def test_calibrate_prints_and_stores(database, capsys):
    rc, out, _ = cli(capsys, "calibrate", "--size", "1", "--dsn", database, "--migrations", str(SMALL))
    assert rc == 0 and "rewrite" in out and "MB/s" in out and 'basis "calibrated"' in out
    rc, out, _ = cli(capsys, "calibrate", "--size", "1", "--json", "--dsn", database, "--migrations", str(SMALL))
    figures = json.loads(out)
    assert rc == 0 and figures["basis"] == "calibrated" and figures["index_mb_s"] > 0
    assert query(database, "SELECT count(*) FROM public.calibrations") == [(2,)]


def test_calibrate_refuses_a_size_below_one_mb(database, capsys):
    rc, _, err = cli(capsys, "calibrate", "--size", "0", "--dsn", database, "--migrations", str(SMALL))
    assert rc == 2 and "--size 0" in err
    assert query(database, "SELECT to_regclass('public.calibrations')") == [(None,)]
