"""Drift on a real server: a database installed by `Upgrade` matches its shipped expected shape;
each kind of change is reported as exactly one difference, and running its suggested SQL
removes the drift again (the real test of the fix SQL)."""
from __future__ import annotations

import copy
import json
import os
import shutil
import stat

import psycopg
import pytest

from pgferry.engine.definitions.catalog import bundled_migrations_dir
from pgferry.engine.repair.describe import canonical_json, describe
from pgferry.engine.repair.differences import compare
from pgferry.engine.repair.drift import check
from pgferry.engine.repair.expected import load_expected, merge
from pgferry.engine.repair.fixes import quote_ident
from pgferry.engine.upgrade.upgrade import Connections, Upgrade
from pgferry.tui.cli import main
from tests.support import bundled, clone_database, drift_json, execute, query, run_cli

DEFS = bundled()
NEWEST = DEFS.releases.latest().version


@pytest.fixture(scope="module")
def _reused(pg_server, newest_template):
    holder = {"dsn": clone_database(pg_server, newest_template)}
    yield holder
    pg_server.drop_database(holder["dsn"])


@pytest.fixture
def clean_db(pg_server, newest_template, _reused):
    """Like `newest_db`, but reused while each test leaves it without drift (cloning costs a second)."""
    [report] = check(DEFS, {s: _reused["dsn"] for s in DEFS.schemas})
    if report.differences:
        pg_server.drop_database(_reused["dsn"])
        _reused["dsn"] = clone_database(pg_server, newest_template)
    return _reused["dsn"]


def execute(dsn, *statements):
    with psycopg.connect(dsn, autocommit=True) as conn:  # autocommit: CONCURRENTLY needs it
        for st in statements:
            st = "\n".join(line for line in st.splitlines() if not line.lstrip().startswith("--"))
            if st.strip():
                conn.execute(st)


def no_drift(dsn) -> bool:
    [report] = check(DEFS, {s: dsn for s in DEFS.schemas})
    assert [d.as_dict() for d in report.differences] == []
    return True


CHANGES = [
    ("drop column", "ALTER TABLE repo DROP COLUMN private", ("column", "repo.private", "missing")),
    ("add column", "ALTER TABLE repo ADD COLUMN nickname text", ("column", "repo.nickname", "unexpected")),
    ("change default", "ALTER TABLE repo ALTER COLUMN stars SET DEFAULT 5", ("column", "repo.stars", "different")),
    ("drop not null", "ALTER TABLE repo ALTER COLUMN name DROP NOT NULL", ("column", "repo.name", "different")),
    ("change type", "ALTER TABLE repo ALTER COLUMN stars TYPE bigint", ("column", "repo.stars", "different")),
    ("change comment", "COMMENT ON COLUMN repo.stars IS 'changed'", ("comment", "repo.stars", "different")),
    ("drop index", "DROP INDEX repo_created_at", ("index", "repo.repo_created_at", "missing")),
    ("add index", "CREATE INDEX repo_language_tmp ON repo (language)", ("index", "repo.repo_language_tmp", "unexpected")),
    ("alter index", "DROP INDEX repo_created_at; CREATE INDEX repo_created_at ON repo (created_at DESC)",
     ("index", "repo.repo_created_at", "different")),
    # a failed CREATE INDEX CONCURRENTLY leaves exactly this catalog state
    ("invalid index", "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'repo_created_at'::regclass",
     ("index", "repo.repo_created_at", "invalid index")),
    ("change function", "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS "
     "$$ BEGIN RETURN NEW; END $$", ("function", "set_updated_at()", "different")),
    ("drop view", "DROP VIEW active_repos", ("view", "active_repos", "missing")),
    ("add table", "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)", ("table", "notes", "unexpected")),
    ("drop table", "DROP TABLE user_emails", ("table", "user_emails", "missing")),
    ("drop constraint", "ALTER TABLE repo DROP CONSTRAINT repo_metadata_check",
     ("constraint", "repo.repo_metadata_check", "missing")),
    ("drop primary key", "ALTER TABLE feature_flags DROP CONSTRAINT feature_flags_pkey",
     ("constraint", "feature_flags.feature_flags_pkey", "missing")),
    ("drop trigger", "DROP TRIGGER users_set_updated_at ON users", ("trigger", "users.users_set_updated_at", "missing")),
    ("drop extension", "DROP EXTENSION btree_gin CASCADE", None),  # takes its indexes along: checked below
    ("add sequence", "CREATE SEQUENCE ticket_seq", ("sequence", "ticket_seq", "unexpected")),
    ("table comment", "COMMENT ON TABLE repo IS 'repositories'", ("comment", "repo", "different")),
]


def test_installed_release_has_no_drift(capsys, newest_db):
    code, data = drift_json(capsys, newest_db)
    assert code == 0 and data["drift"] is False
    [report] = data["databases"]
    assert report["schemas"] == list(DEFS.schemas) and report["version"] == NEWEST
    assert report["differences"] == [] and report["ignored"] == [] and report["warnings"] == []
    assert main(["drift", "--dsn", newest_db]) == 0
    assert "no drift: 1 database(s) match their release" in capsys.readouterr().out


@pytest.mark.parametrize("change,statement,want", CHANGES, ids=[c[0] for c in CHANGES])
def test_each_change_is_found_and_its_fix_removes_it(capsys, clean_db, change, statement, want):
    execute(clean_db, statement)
    code, data = drift_json(capsys, clean_db)
    assert code == 5 and data["drift"] is True
    diffs = data["databases"][0]["differences"]
    if want is None:  # the extension and the index that needed it
        assert {(d["kind"], d["object"], d["problem"]) for d in diffs} == {
            ("extension", "btree_gin", "missing"), ("index", "lsif_packages.lsif_packages_scheme_name_gin", "missing")}
    else:
        assert [(d["kind"], d["object"], d["problem"]) for d in diffs] == [want]
    assert all(d["fix"] for d in diffs)
    execute(clean_db, *[st for d in diffs for st in d["fix"]])
    assert no_drift(clean_db)


def test_fix_sql_reads_well(capsys, newest_db):
    execute(newest_db, "ALTER TABLE repo DROP COLUMN private", "DROP INDEX repo_created_at",
            "ALTER TABLE repo ALTER COLUMN stars DROP DEFAULT")
    _, data = drift_json(capsys, newest_db)
    fixes = {d["object"]: d["fix"] for d in data["databases"][0]["differences"]}
    assert fixes["repo.private"] == [
        "ALTER TABLE public.repo ADD COLUMN private boolean DEFAULT false NOT NULL;",
        "COMMENT ON COLUMN public.repo.private IS 'Whether the repository is private on its code host.';"]
    assert fixes["repo.repo_created_at"] == [
        "CREATE INDEX CONCURRENTLY repo_created_at ON public.repo USING btree (created_at);"]
    assert fixes["repo.stars"] == ["ALTER TABLE public.repo ALTER COLUMN stars SET DEFAULT 0;"]
    capsys.readouterr()
    assert main(["drift", "--dsn", newest_db]) == 5
    out = capsys.readouterr().out
    assert "column repo.private: missing" in out and "fix:" in out and "ALTER TABLE public.repo ADD COLUMN" in out
    assert "drift: 3 differences in 1 of 1 database(s)" in out


def test_fix_sql_quotes_names_as_the_server_does(newest_db):
    """Fix SQL sits beside the server's own pg_get_*def text: its names must quote the same way."""
    names = ["repo", "_x$1", "Repo", "two words", 'we"ird', "select", "user", "int", "between", "name", "é"]
    [server] = query(newest_db, "SELECT array_agg(quote_ident(n) ORDER BY i) FROM unnest(%s::text[]) "
                                "WITH ORDINALITY AS t(n, i)", [names])
    assert [quote_ident(n) for n in names] == server[0]


def test_enum_labels(capsys, newest_db):
    """An extra label can only be advised on; missing labels are added in place."""
    execute(newest_db, "ALTER TYPE lsif_index_state ADD VALUE 'paused'")
    code, data = drift_json(capsys, newest_db)
    [d] = data["databases"][0]["differences"]
    assert code == 5 and (d["kind"], d["object"], d["problem"]) == ("enum", "lsif_index_state", "different")
    assert d["actual"][-1] == "paused" and d["fix"][0].startswith("-- PostgreSQL cannot remove enum labels ('paused')")
    # missing labels, on a type of our own: expected says a, b, c, d; the database has c only
    execute(newest_db, "CREATE TYPE mood AS ENUM ('c')")
    with psycopg.connect(newest_db) as conn:
        actual = describe(conn)
    expected = copy.deepcopy(actual)
    expected["enums"]["mood"] = ["a", "b", "c", "d"]
    [d] = [x for x in compare(expected, actual) if x.object == "mood"]
    assert d.fix == ["ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'a' BEFORE 'c';",
                     "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'b' AFTER 'a';",
                     "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'd' AFTER 'c';"]
    execute(newest_db, *d.fix)
    with psycopg.connect(newest_db) as conn:
        assert describe(conn)["enums"]["mood"] == ["a", "b", "c", "d"]


def test_several_changes_fixed_by_one_ordered_script(capsys, newest_db):
    execute(newest_db, "DROP VIEW active_repos", "ALTER TABLE repo DROP COLUMN description",
            "DROP TABLE user_emails", "DROP FUNCTION user_emails_set_email_lower()",
            "CREATE TABLE notes (id serial PRIMARY KEY, repo_id integer REFERENCES repo (id))",
            "CREATE VIEW repo_notes AS SELECT n.id, r.name FROM notes n JOIN repo r ON r.id = n.repo_id")
    code, data = drift_json(capsys, newest_db)
    assert code == 5 and len(data["databases"][0]["differences"]) == 6
    capsys.readouterr()
    main(["drift", "--dsn", newest_db, "--sql"])
    script = capsys.readouterr().out
    execute(newest_db, *[s for s in script.split(";\n") if s.strip()])
    assert no_drift(newest_db)


def test_ignore_file(capsys, newest_db, tmp_path):
    execute(newest_db, "CREATE INDEX repo_language_tmp ON repo (language)", "ALTER TABLE repo ADD COLUMN nickname text")
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text('- pattern: "index:*_tmp"\n  reason: temporary indexes of the nightly report\n')
    code, data = drift_json(capsys, newest_db, "--ignore", str(ignore))
    report = data["databases"][0]
    assert code == 5 and [d["object"] for d in report["differences"]] == ["repo.nickname"]
    [ignored] = report["ignored"]
    assert ignored["object"] == "repo.repo_language_tmp" and ignored["reason"] == "temporary indexes of the nightly report"
    assert ignored["rule"] == "ignore.yaml:1"
    # the definitions' own drift-ignore.yaml applies too; ignoring everything leaves exit 0
    defs_copy = tmp_path / "migrations"
    shutil.copytree(bundled_migrations_dir(), defs_copy, ignore=shutil.ignore_patterns("demo"))
    (defs_copy / "drift-ignore.yaml").write_text('- pattern: "column:repo.*"\n  reason: local columns\n')
    code, data = drift_json(capsys, newest_db, "--ignore", str(ignore), "--migrations", str(defs_copy))
    assert code == 0 and data["drift"] is False and len(data["databases"][0]["ignored"]) == 2
    capsys.readouterr()
    assert main(["drift", "--dsn", newest_db, "--ignore", str(ignore), "--migrations", str(defs_copy)]) == 0
    out = capsys.readouterr().out
    assert "ignored: index repo.repo_language_tmp (unexpected): temporary indexes" in out and "2 ignored" in out
    ignore.write_text('- pattern: "index:*"\n')  # no reason
    assert main(["drift", "--dsn", newest_db, "--ignore", str(ignore)]) == 2


def test_version_override_warns_about_migrations_beyond_it(capsys, newest_db):
    older = [r.version for r in DEFS.releases.releases if not r.pulled and r.channel == "stable"][-2]
    code, data = drift_json(capsys, newest_db, "--version", older)
    report = data["databases"][0]
    assert code == 5 and report["version"] == older and report["differences"]
    assert any(f"applied beyond {older}" in w for w in report["warnings"])


def test_separate_databases_and_exempt_schemas(capsys, pg_server):
    oldest = DEFS.releases.releases[0]
    dsns = {s: pg_server.create_database(s[:6]) for s in DEFS.schemas}
    Upgrade(DEFS, Connections(dsns)).run(oldest.version)
    flags = [f"--schema-dsn={s}={d}" for s, d in dsns.items()]
    code, data = drift_json(capsys, dsns["frontend"], *flags)
    assert code == 0, data
    by_schema = {tuple(r["schemas"] or r["exempt"]): r for r in data["databases"]}
    assert set(by_schema) == {("frontend",), ("codeintel",), ("codeinsights",)}
    assert by_schema[("codeinsights",)]["exempt"] == ["codeinsights"]  # not in the oldest release
    assert by_schema[("frontend",)]["version"] == oldest.version
    # a process, as an operator runs it: exit code 5 and the text report
    execute(dsns["codeintel"], "ALTER TABLE lsif_indexes DROP COLUMN docker_steps")
    r = run_cli("drift", "--dsn", dsns["frontend"], *flags, "--schema", "codeintel")
    assert r.returncode == 5, r.stderr
    assert "column lsif_indexes.docker_steps: missing" in r.stdout
    for d in dsns.values():
        pg_server.drop_database(d)


def test_describe_live_is_deterministic_and_private(capsys, newest_db, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["describe", "--dsn", newest_db, "--out", str(a)]) == 0
    assert main(["describe", "--dsn", newest_db, "--out", str(b), "--schema", "codeintel"]) == 0
    assert a.read_text() == b.read_text()
    assert stat.S_IMODE(os.stat(a).st_mode) == 0o600
    shipped = load_expected(DEFS, NEWEST)
    assert json.loads(a.read_text()) == merge(shipped.values())


def test_replay_instead_of_shipped_files(capsys, newest_db, pg_server):
    execute(newest_db, "DROP INDEX repo_created_at")
    code, data = drift_json(capsys, newest_db, "--replay", "--admin-dsn", pg_server.admin_dsn)
    assert code == 5 and [d["object"] for d in data["databases"][0]["differences"]] == ["repo.repo_created_at"]


def test_describe_expected_equals_shipped_file(capsys, pg_server):
    capsys.readouterr()
    assert main(["describe", "--expected", "--version", NEWEST, "--admin-dsn", pg_server.admin_dsn]) == 0
    generated = capsys.readouterr().out
    shipped = (bundled_migrations_dir() / "expected" / f"{NEWEST}.json").read_text()
    assert generated == shipped
    assert generated == canonical_json(json.loads(generated))
    assert set(json.loads(generated)) == set(DEFS.release(NEWEST).leaves)
    shipped_files = {p.stem for p in (bundled_migrations_dir() / "expected").glob("*.json")}
    assert shipped_files == {r.version for r in DEFS.releases.releases}


@pytest.mark.parametrize("change, seen", [
    # the key's index vanishes under pg_get_constraintdef: "cache lookup failed"
    ("ALTER TABLE org_members DROP CONSTRAINT org_members_pkey;", "vanished"),
    # real drift seen while a migration commits: deferred (busy); the run re-checks under its lock
    ("CREATE TABLE extra_t (id int);", "moved"),
])
def test_a_migration_committed_during_the_check_is_busy_not_drift(capsys, database, small_copy, small_shapes,
                                                                  change, seen):
    """The snapshot keeps migration_logs and the catalog tables consistent, but pg_get_*def read the
    live catalog: a constraint a migrator dropped after the snapshot showed as "different" and
    failed a concurrent upgrade's gate. What moved meanwhile is the migrator's half-way state."""
    from pgferry.engine.definitions.catalog import load
    from pgferry.engine.repair.expected import render
    from tests.support import ADOPTED, add_migration, cli

    (small_copy / "expected").mkdir(exist_ok=True)
    (small_copy / "expected" / f"{ADOPTED}.json").write_text(render(small_shapes))
    add_migration(small_copy, "main", 20, "members_key", change + "\n", parents=[13])
    flags = ["--dsn", database, "--migrations", str(small_copy), "--no-progress"]
    code, _, err = cli(capsys, "upgrade", "--to", ADOPTED, "--yes", *flags)
    assert code == 0, err
    defs = load(small_copy)
    dsns = {s: database for s in defs.schemas}
    [quiet] = check(defs, dsns)
    assert not quiet.differences and not quiet.busy
    if seen == "moved":
        execute(database, "CREATE INDEX users_username ON users (username)")  # by hand: drift

    def meanwhile(d, version):  # called inside the check's snapshot, after it read migration_logs
        code, _, err = cli(capsys, "upto", "--schema", "main", "--target", "20", *flags)
        assert code == 0, err
        return load_expected(d, version)

    [report] = check(defs, dsns, load=meanwhile)
    assert report.busy
    if seen == "vanished":
        assert not report.differences and "the catalog changed while it was read" in report.warnings[-1]
    else:
        assert [d.object for d in report.differences] == ["users.users_username"]
    [after] = check(defs, dsns)  # settled: migration 20 is beyond the release, said as such
    assert after.busy and any("20" in w for w in after.warnings)
