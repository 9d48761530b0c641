"""Security: passwords never shown or stored, owner-only files, quoted identifiers, bound tokens.

- A DSN password (and a PGPASSWORD, and a superuser DSN's) is searched in the stdout and stderr of
  many commands, successes and failures (their exception text is the `error:` line), in every
  file they write (plan exports, transcript, journal, report, privileged bundle, describe output,
  backup), and in every text column pgferry writes to the database.
- Every file pgferry writes is created readable by its owner only, even under umask 000.
- Names with quotes, semicolons and unicode for the database, the bookkeeping schema and a
  migration graph's schema go through the bundled product's install, status, recover, drift and
  a small product's up/downto: they land where they should and inject nothing.
- A privileged bundle's token does not confirm the bundle of a different plan.
- A DSN libpq cannot parse (a misspelt key, bad percent-encoding, a password without "=") is shown
  with everything after a password-like key masked; a one-letter password is hidden where it
  stands as a value, not wherever its letter occurs.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support import ROOT, SMALL, query, wait_for
from tests.faults.harness import env, in_process, no_traceback, pgferry, spawn, upgrade_args
from tests.faults.pg import SUPERUSER_PASSWORD
from tests.faults.product import NEWEST, OLDEST

PGPASSWORD_SECRET = "Pgp4ss-env-s3cret"


def pgferry_umask0(*args: str, extra_env: dict | None = None):
    """Like `pgferry` but with umask 000: modes of created files are pgferry's own doing."""
    return subprocess.run([sys.executable, "-m", "pgferry", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env(**(extra_env or {})), timeout=300, preexec_fn=lambda: os.umask(0))


def bookkeeping_text(dsn: str, schema: str = "public") -> str:
    """Every text/json value of pgferry's tables, as one string to search."""
    out = []
    for table in ("migration_logs", "upgrade_runs", "out_of_band_migrations", "out_of_band_migrations_errors"):
        ident = sql.Identifier(schema, table)
        if query(dsn, "SELECT to_regclass(%s)", [ident.as_string(None)])[0][0] is None:
            continue
        out += [str(r) for r in query(dsn, sql.SQL("SELECT t::text FROM {} t").format(ident))]
    return "\n".join(out)


def test_passwords_never_appear_and_files_are_owner_only(product, fault_server, tmp_path):
    name, dsn = product.clone("sec")
    uri = fault_server.uri(name)  # the same password in URI form
    files = tmp_path / "out"
    files.mkdir()
    os.chmod(files, 0o777)
    f = lambda n: str(files / n)  # noqa: E731
    secrets = [SUPERUSER_PASSWORD, PGPASSWORD_SECRET]
    runs = []

    def run(*args, code=0, extra_env=None):
        r = pgferry_umask0(*args, extra_env=extra_env)
        runs.append((args, r))
        assert r.returncode == code, (args, r.returncode, r.stderr[-1500:])
        assert no_traceback(r.stdout + r.stderr), r.stderr
        return r

    run("status", "--dsn", dsn)
    run("status", "--json", "--dsn", uri)
    run("plan", "--to", NEWEST, "--json", "--dsn", dsn, "--out", f("plan.json"))
    run("plan", "--to", NEWEST, "--sql", "--dsn", dsn, "--out", f("plan.sql"))
    run("plan", "--to", NEWEST, "--markdown", "--dsn", uri, "--out", f("plan.md"))
    run("privileged", "--to", NEWEST, "--all", "--dsn", dsn, "--out", f("privileged.sql"))
    run("preflight", "--to", NEWEST, "--dsn", dsn, "--backup", f("backup"))
    run("describe", "--dsn", dsn, "--out", f("describe.json"))
    run("drift", "--json", "--dsn", dsn)
    run("check", "--release", OLDEST, "--dsn", dsn)
    # a run with a journal, killed mid-way; then resumed with a superuser DSN for privileged steps
    journal = files / "run.jsonl"
    log = tmp_path / "killed.log"
    p = spawn(upgrade_args(dsn, NEWEST, "--journal", str(journal)), log)
    wait_for("the run to reach an out-of-band stop",
             lambda: query(dsn, "SELECT 1 FROM upgrade_runs WHERE current_step LIKE 'out-of-band%%'"), timeout=120)
    p.kill()
    p.wait()
    runs.append((("upgrade (killed)",), subprocess.CompletedProcess([], -9, log.read_text(), "")))
    run("recover", "--dsn", dsn, "--transcript", f("transcript.md"), code=0)
    run("oob", "status", "--json", "--dsn", dsn)
    run(*upgrade_args(uri, NEWEST, "--journal", f("resume.jsonl"), "--superuser-dsn", dsn, "--json"))
    run("report", "--dsn", dsn, "--out", f("report.md"))
    # failures: their exception text is the error line
    run("status", "--dsn", fault_server.dsn(name, password="x" + SUPERUSER_PASSWORD), code=6)
    run("status", "--dsn", fault_server.dsn(name, password=None), extra_env={"PGPASSWORD": PGPASSWORD_SECRET}, code=6)
    run("status", "--dsn", fault_server.uri("no_such_db"), code=6)
    run("status", "--dsn", f"host=127.0.0.1 passwd={SUPERUSER_PASSWORD} dbname={name}", code=2)
    run("upgrade", "--to", "9.9.9", "--yes", "--dsn", dsn, code=2)
    run("recover", "--mark-applied", "1", "--yes", "--dsn", uri, "--transcript", f("transcript-refused.md"), code=2)

    for args, r in runs:
        for s in secrets:
            assert s not in r.stdout and s not in r.stderr, (args, s)
    written = [p for p in files.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"plan.json", "plan.sql", "plan.md", "privileged.sql", "describe.json", "run.jsonl", "resume.jsonl",
            "transcript.md", "report.md", "transcript-refused.md"} <= names, names
    assert any(p.parent.name == "backup" for p in written), "the backup wrote a dump"
    for p in written:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode & 0o077 == 0, f"{p.name} is {oct(mode)} under umask 000"
        data = p.read_bytes()
        for s in secrets:
            assert s.encode() not in data, (p.name, s)
    for d in [p for p in files.rglob("*") if p.is_dir()]:
        assert stat.S_IMODE(d.stat().st_mode) & 0o077 == 0, f"directory {d.name} is not owner-only"
    stored = bookkeeping_text(dsn)
    assert "postgres" in stored  # the search looks at real rows
    for s in secrets:
        assert s not in stored


WEIRD_DB = 'pgf"ferry; DROP DATABASE postgres;--ü'
WEIRD_BOOK = "book'keeping\"; DROP TABLE repo;--é"
WEIRD_SCHEMA = "aux; DROP TABLE users;--ñ"


def test_names_with_quotes_semicolons_and_unicode_are_quoted_end_to_end(fault_server, tmp_path):
    fault_server.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(WEIRD_DB)))
    fault_server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(WEIRD_DB)))
    dsn = fault_server.dsn(WEIRD_DB)
    uri = fault_server.uri(WEIRD_DB)
    book = ["--bookkeeping-schema", WEIRD_BOOK]
    try:
        # the bundled product installed into the weird database with a weird bookkeeping schema
        r = pgferry(*upgrade_args(dsn, "3.24.0", *book))
        assert r.returncode == 0, r.stderr[-2000:]
        tables = {t for (t,) in query(dsn, "SELECT relname FROM pg_class WHERE relnamespace = "
                                           "(SELECT oid FROM pg_namespace WHERE nspname = %s)", [WEIRD_BOOK])}
        assert {"migration_logs", "upgrade_runs", "out_of_band_migrations"} <= tables, tables
        assert query(dsn, "SELECT to_regclass('public.migration_logs')") == [(None,)]
        assert query(dsn, "SELECT to_regclass('public.repo') IS NOT NULL") == [(True,)]
        for args in (["status", "--json"], ["recover", "--json"], ["drift"], ["oob", "status"],
                     ["check", "--release", "3.24.0"]):
            r = pgferry(*args, "--dsn", uri, *book)
            assert r.returncode == 0, (args, r.stderr[-1500:])
        status = json.loads(pgferry("status", "--json", "--dsn", dsn, *book).stdout)
        assert status["release"] == "3.24.0"
        r = pgferry(*upgrade_args(dsn, NEWEST, *book))
        assert r.returncode == 0, r.stderr[-2000:]
        assert WEIRD_DB in query(dsn, "SELECT current_database()")[0][0]

        # a migration graph whose schema name has a quote-free semicolon and unicode, in the same database
        defs = tmp_path / "migrations"
        shutil.copytree(SMALL, defs)
        (defs / "aux").rename(defs / WEIRD_SCHEMA)
        rel = defs / "releases.yaml"
        rel.write_text(rel.read_text().replace("aux:", f"'{WEIRD_SCHEMA}':"))
        r = pgferry("validate", "--migrations", str(defs))
        assert r.returncode == 0, r.stderr
        small_db = 'small"db;ü'
        fault_server.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(small_db)))
        fault_server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(small_db)))
        sdsn = fault_server.dsn(small_db)
        m = ["--migrations", str(defs), "--no-progress", *book]
        r = pgferry("up", "--dsn", sdsn, *m)
        assert r.returncode == 0, r.stderr[-2000:]
        r = pgferry("downto", "--schema", WEIRD_SCHEMA, "--target", "1", "--yes", "--dsn", sdsn, *m)
        assert r.returncode == 0, r.stderr[-2000:]
        r = pgferry("status", "--json", "--dsn", sdsn, "--migrations", str(defs), *book)
        weird = next(s for s in json.loads(r.stdout)["schemas"] if s["name"] == WEIRD_SCHEMA)
        assert weird["applied"] == [1]
        assert query(sdsn, "SELECT to_regclass('public.users') IS NOT NULL") == [(True,)]
        logged = query(sdsn, sql.SQL("SELECT DISTINCT schema FROM {} ORDER BY 1").format(
            sql.Identifier(WEIRD_BOOK, "migration_logs")))
        assert (WEIRD_SCHEMA,) in logged
        fault_server.drop_database(small_db)
    finally:
        fault_server.drop_database(WEIRD_DB)
    assert fault_server.execute("SELECT 1 FROM pg_database WHERE datname = 'postgres'") == [(1,)]


def test_a_privileged_token_does_not_confirm_a_different_plan(product):
    name, dsn = product.clone("tok")
    first = json.loads(pgferry("privileged", "--to", "3.25.0", "--all", "--json", "--dsn", dsn).stdout)
    second = json.loads(pgferry("privileged", "--to", NEWEST, "--all", "--json", "--dsn", dsn).stdout)
    assert first["token"] != second["token"]
    assert {s["id"] for s in first["steps"]} < {s["id"] for s in second["steps"]}
    before = query(dsn, "SELECT count(*) FROM migration_logs")
    r = pgferry("privileged", "verify", "--to", NEWEST, "--token", first["token"], "--dsn", dsn)
    assert r.returncode == 2 and "does not match" in r.stderr, r.stderr
    assert query(dsn, "SELECT count(*) FROM migration_logs") == before, "nothing recorded"
    # the token of the plan it was printed for is accepted
    r = pgferry("privileged", "verify", "--to", NEWEST, "--token", second["token"], "--dsn", dsn)
    assert r.returncode in (0, 3), r.stderr


# Each form: the DSN, its secret, the exit code, and what the error line must still say.
DSN_FORMS = {
    "password without =": ("host=/x user=postgres password:hunter2", "hunter2", 2,
                           'invalid DSN host=/x user=postgres password:****: missing "=" after "password:****"'),
    "bad percent-encoding": ("postgresql://u@h/db?password=S3cr%zzet", "S3cr", 2,
                             'invalid DSN postgresql://u@h/db?password=****: invalid percent-encoded token: "****"'),
    "misspelt key in a URI": ("postgresql://u@h/db?passwd=S3cret", "S3cret", 2,
                              'invalid DSN postgresql://u@h/db?passwd=****: invalid URI query parameter: "passwd"'),
    "misspelt key": ("host=/x passwd=S3cret dbname=d", "S3cret", 2, "invalid DSN host=/x passwd=**** dbname=d"),
    "open quote": ("host=/x password='S3 cret dbname=d", "cret", 2, "invalid DSN host=/x password=****:"),
    "one letter in a URI": ("postgresql://u:c@127.0.0.1:1/db?connect_timeout=2", None, 6,
                            "cannot connect to u@127.0.0.1:1/db: Connection refused"),
    "one letter": ("host=127.0.0.1 port=1 user=u password=c connect_timeout=2", None, 6,
                   "cannot connect to u@127.0.0.1:1/u: Connection refused"),
}


@pytest.mark.parametrize("form", DSN_FORMS)
def test_a_dsn_is_masked_by_its_structure(form):
    dsn, secret, code, says = DSN_FORMS[form]
    rc, out, err = in_process("status", "--dsn", dsn)
    assert rc == code, err
    assert says in err, err  # readable: the reason, with the mask only where the secret was
    if secret:
        assert secret not in out + err
    else:  # a one-letter password: no word of the message is cut into pieces
        assert "****" not in err.splitlines()[0]


def test_the_grant_dialog_refuses_an_unparsable_dsn_without_showing_it():
    import asyncio

    from textual.app import App
    from textual.widgets import Input, Static

    from pgferry.engine.privileges.privileges import Bundle
    from pgferry.tui.app.grant_dialog import GrantDialog

    answers = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(GrantDialog(Bundle("1.0.0", (), "app"), ["db"]), answers.append)

    async def go():
        app = Host()
        async with app.run_test() as pilot:
            await pilot.pause()
            app.screen.query_one(Input).value = "host=/x user=postgres password:hunter2"
            await pilot.press("enter")
            await pilot.pause()
            problem = str(app.screen.query_one("#grant-problem", Static).render())
            assert 'missing "=" after "password:****"' in problem and "refused" not in problem
            assert "hunter2" not in problem
            assert isinstance(app.screen, GrantDialog)  # still asking: nothing was tried

    asyncio.run(go())
    assert answers == []


def status_on_a_terminal(args: list[str]) -> str:
    """`pgferry status ARGS` with stdout on a pseudo-terminal: what a terminal would receive."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pgferry", "status", *args], stdout=follower, stderr=follower,
                            cwd=ROOT, env=env(TERM="xterm-256color", COLUMNS="120"))
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command finished
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode()


def test_server_and_definition_text_reaches_no_terminal_raw(database, small_copy, tmp_path):
    """A RAISE whose message holds OSC 52 (clipboard), a BEL and a screen clear, a DETAIL quoting
    such application data, and a migration name with an OSC 0 (window title) and a C1 CSI: every
    command prints them escaped, and every file it writes holds them escaped."""
    boom = small_copy / "main" / "17_boom"
    boom.mkdir()
    (boom / "metadata.yaml").write_text('name: "boom \\e]0;title\\a \\x9b2J"\nparents: [16]\n')
    (boom / "up.sql").write_text("DO $$BEGIN RAISE EXCEPTION E'boom\\x1b]52;c;aGk=\\x07\\x1b[2J' "
                                 "USING DETAIL = E'Key (k)=(\\x1b]0;t\\x07)'; END$$;\n")
    (boom / "down.sql").write_text("SELECT 1;\n")
    releases = small_copy / "releases.yaml"
    releases.write_text(releases.read_text().replace("main: [16]", "main: [17]"))
    m = ["--dsn", database, "--migrations", str(small_copy)]
    f = lambda n: str(tmp_path / n)  # noqa: E731
    outputs = []

    def run(*args, code=0):
        rc, out, err = in_process(*args, *m)
        assert rc == code, (args, err[-1500:])
        outputs.append((args, out + err))
        return out + err

    assert "boom\\x1b]52;c;aGk=\\x07\\x1b[2J" in run("upgrade", "--to", "1.2.0", "--yes", "--no-progress", code=1)
    run("up", "--no-progress", code=1)
    assert "boom\\x1b]52" in run("status")
    run("status", "--json")
    assert "boom \\x1b]0;title\\x07 \\x9b2J" in run("recover", "--transcript", f("transcript.md"), code=4)
    assert "\\u009b2J" in run("recover", "--json", code=4)  # JSON escapes C1 controls too (ensure_ascii)
    run("report")
    run("report", "--json")
    run("report", "--out", f("report.md"))
    for fmt in ("md", "sql", "txt"):
        run("plan", "--to", "1.2.0", "--out", f(f"plan.{fmt}"))
    run("plan", "--to", "1.2.0")
    on_terminal = status_on_a_terminal(m)
    assert "\x1b[1m" in on_terminal, "rich still styles a terminal"
    assert "boom\\x1b]52;c;aGk=\\x07\\x1b[2J" in on_terminal and "\x1b]" not in on_terminal
    files = [(p.name, p.read_text()) for p in tmp_path.iterdir() if p.is_file()]
    assert len(files) == 5
    for what, text in outputs + files:
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, what
    assert any("boom" in text for _, text in files if "plan" not in _)
