"""One reading of what the server said: `server_message` is the only place that opens a psycopg
error's diagnostics, so the runner, the out-of-band runner, lost-connection reasons, the command
line and the app cannot drift apart in how they word a refusal."""
from __future__ import annotations

import ast

import psycopg
import pytest

from pgferry.engine.errors import server_message
from tests.support import ROOT


def refusal(pg_server, statement: str) -> psycopg.Error:
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    return caught.value


def test_a_server_error_gives_its_message_state_detail_hint_and_position(pg_server):
    said = server_message(refusal(pg_server, "DO $$ BEGIN RAISE EXCEPTION 'no luck' USING DETAIL = 'it is Tuesday', "
                                             "HINT = 'wait', ERRCODE = '22023'; END $$"))
    assert (said.text, said.sqlstate, said.detail, said.hint) == ("no luck", "22023", "it is Tuesday", "wait")
    assert said.with_state() == "no luck (SQLSTATE 22023)"
    assert server_message(refusal(pg_server, "SELECT 1,\n  nosuchcolumn")).position == 13


def test_a_driver_error_gives_its_first_line_or_its_type():
    said = server_message(psycopg.OperationalError("server closed the connection unexpectedly\n\tThis probably means"))
    assert (said.text, said.sqlstate, said.detail) == ("server closed the connection unexpectedly", None, None)
    assert server_message(psycopg.OperationalError("")).text == "OperationalError"
    assert server_message(TimeoutError()).text == "TimeoutError"


def test_nothing_else_reads_a_psycopg_errors_diagnostics():
    readers = [f"{path.relative_to(ROOT)}:{node.lineno}"
               for top in ("engine", "tui") for path in sorted((ROOT / top).rglob("*.py"))
               if path != ROOT / "engine" / "errors.py"
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.Attribute) and node.attr in ("message_primary", "message_detail", "diag")]
    assert readers == [], "use engine.errors.server_message:\n" + "\n".join(readers)
