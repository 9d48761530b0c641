"""Privileged steps with a real low-privilege role: no superuser, no CREATEROLE, no CREATE on the database."""
from __future__ import annotations

import io
import json
import shutil

import psycopg
from psycopg import conninfo, sql

from tests.support import SMALL, as_role, query, run_cli


def tables(dsn):
    return query(dsn, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")[0][0]


def test_bundled_upgrade_stops_with_exit_3_before_any_change(app_db, app_role, database):
    r = run_cli("upgrade", "--to", "latest", "--dsn", app_db, "--yes", "--no-progress")
    assert r.returncode == 3, r.stderr
    assert f"role {app_role} cannot run" in r.stderr and "Nothing was changed" in r.stderr
    assert "pgferry privileged --to" in r.stderr and "--superuser-dsn" in r.stderr
    assert tables(database) == 0, "not even bookkeeping tables were created"


def test_bundled_product_bundle_verify_upgrade(app_db, database):
    from pgferry.engine.definitions.catalog import bundled_migrations_dir, load

    defs = load(bundled_migrations_dir())
    newest = defs.releases.latest().version
    r = run_cli("privileged", "--to", newest, "--json", "--dsn", app_db)
    assert r.returncode == 0, r.stderr
    bundle = json.loads(r.stdout)
    plan = json.loads(run_cli("plan", "--to", newest, "--json", "--dsn", app_db).stdout)
    privileged = [(s["schema"], s["id"]) for s in plan["steps"] if s["kind"] == "schema" and s["privileged"]]
    # every privileged statement of the plan, and nothing else
    assert [(s["schema"], s["id"]) for s in bundle["steps"]] == privileged and len(privileged) >= 3
    for step in bundle["steps"]:
        m = defs.schemas[step["schema"]].migrations[step["id"]]
        assert step["sql"] == "\n".join(st.text + ";" for st in m.up.statements)
        assert all(st.privileged for st in m.up.statements)
    sql_text = run_cli("privileged", "--to", newest, "--dsn", app_db).stdout
    with psycopg.connect(database, autocommit=True) as su:
        su.execute(sql_text)
    r = run_cli("privileged", "verify", "--to", newest, "--dsn", app_db)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("upgrade", "--to", newest, "--yes", "--no-progress", "--dsn", app_db)
    assert r.returncode == 0, r.stderr
    status = json.loads(run_cli("status", "--json", "--dsn", app_db).stdout)
    assert status["version"] == newest and all(not s["failed"] and not s["dirty"] for s in status["schemas"])
    manual = query(database, "SELECT schema, version FROM migration_logs WHERE manual ORDER BY schema, version")
    assert sorted(manual) == sorted(privileged)


def test_bundle_then_dba_then_verify_then_upgrade(app_db, app_role, database):
    m = ["--migrations", str(SMALL), "--dsn", app_db]
    r = run_cli("privileged", "--to", "1.2.0", "--json", *m)
    assert r.returncode == 0, r.stderr
    bundle = json.loads(r.stdout)
    assert [s["id"] for s in bundle["steps"]] == [14]
    assert bundle["steps"][0]["sql"] == "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    assert bundle["token"].startswith("pgf-") and bundle["role"] == app_role
    # verifying before the DBA ran it: still missing, exit 3, nothing recorded
    r = run_cli("privileged", "verify", "--to", "1.2.0", *m)
    assert r.returncode == 3 and "not done" in r.stdout
    # the DBA runs the bundle as a superuser
    r = run_cli("privileged", "--to", "1.2.0", *m)
    with psycopg.connect(database, autocommit=True) as su:
        su.execute(r.stdout)
    r = run_cli("privileged", "verify", "--to", "1.2.0", "--confirmed-by", "dba-alice", *m)
    assert r.returncode == 0, r.stdout + r.stderr
    # held as granted; recorded applied when the upgrade reaches it
    assert query(database, "SELECT version, confirmed_by FROM privileged_grants WHERE applied_at IS NULL") == [
        (14, "dba-alice (verified in the catalog)")]
    r = run_cli("upgrade", "--to", "1.2.0", "--yes", "--no-progress", *m)
    assert r.returncode == 0, r.stderr
    rows = query(database, "SELECT version, manual, confirmed_by FROM migration_logs WHERE version = 14 AND success")
    assert rows == [(14, True, "dba-alice (verified in the catalog)")]
    r = run_cli("status", "--json", *m)
    assert all(s["pending"] == [] for s in json.loads(r.stdout)["schemas"])
    # the application's objects belong to the application role, the extension to the superuser
    assert query(database, "SELECT tableowner FROM pg_tables WHERE tablename = 'events'") == [(app_role,)]


def test_superuser_dsn_runs_only_the_privileged_steps(app_db, app_role, database, pg_server):
    m = ["--migrations", str(SMALL), "--dsn", app_db]
    # One superuser DSN for the server, naming another database (as an admin would write it):
    # the extension must still land in the application's database.
    r = run_cli("upgrade", "--to", "1.2.0", "--yes", "--no-progress", "--superuser-dsn", pg_server.admin_dsn, *m)
    assert r.returncode == 0, r.stderr
    assert query(database, "SELECT manual, confirmed_by FROM migration_logs WHERE version = 14 AND schema = 'main'") == [
        (True, "superuser connection as postgres")]
    assert query(database, "SELECT count(*) FROM migration_logs WHERE manual") == [(1,)]
    assert query(database, "SELECT tableowner FROM pg_tables WHERE tablename = 'users'") == [(app_role,)]
    assert query(database, "SELECT r.rolname FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner "
                           "WHERE extname = 'pg_trgm'") == [("postgres",)]


def test_trusted_extension_with_create_on_database_needs_nobody(app_role, pg_server):
    # The same role, owning its database: pg_trgm is trusted (PostgreSQL 13+), so it can create it.
    admin = pg_server.create_database("own")
    name = conninfo.conninfo_to_dict(admin)["dbname"]
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(app_role)))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(app_role)))
    dsn = as_role(admin, app_role)
    r = run_cli("privileged", "--to", "1.2.0", "--json", "--migrations", str(SMALL), "--dsn", dsn)
    assert json.loads(r.stdout)["steps"] == []
    r = run_cli("upgrade", "--to", "1.2.0", "--yes", "--no-progress", "--migrations", str(SMALL), "--dsn", dsn)
    assert r.returncode == 0, r.stderr


def test_unverifiable_step_needs_the_token_and_the_token_binds_the_content(app_db, database, tmp_path):
    defs = tmp_path / "migrations"
    shutil.copytree(SMALL, defs)
    d = defs / "main" / "17_comment_trgm"
    d.mkdir()
    (d / "metadata.yaml").write_text("name: document pg_trgm\nparents: [16]\nprivileged: true\n")
    (d / "up.sql").write_text("COMMENT ON EXTENSION pg_trgm IS 'trigram matching';\n")
    (d / "down.sql").write_text("COMMENT ON EXTENSION pg_trgm IS NULL;\n")
    rel = (defs / "releases.yaml").read_text().replace("main: [16]", "main: [17]")
    (defs / "releases.yaml").write_text(rel)
    m = ["--migrations", str(defs), "--dsn", app_db]
    bundle = json.loads(run_cli("privileged", "--to", "1.2.0", "--json", *m).stdout)
    assert [s["id"] for s in bundle["steps"]] == [14, 17]
    assert [s["verifiable"] for s in bundle["steps"]] == [True, False]
    with psycopg.connect(database, autocommit=True) as su:
        su.execute(run_cli("privileged", "--to", "1.2.0", *m).stdout)
    r = run_cli("privileged", "verify", "--to", "1.2.0", *m)
    assert r.returncode == 3 and "needs token" in r.stdout
    assert "--token " + bundle["token"] in r.stderr
    # a token from different SQL is refused, and nothing is recorded
    (d / "up.sql").write_text("COMMENT ON EXTENSION pg_trgm IS 'trigrams';\n")
    other = json.loads(run_cli("privileged", "--to", "1.2.0", "--json", *m).stdout)["token"]
    assert other != bundle["token"]
    r = run_cli("privileged", "verify", "--to", "1.2.0", "--token", bundle["token"], *m)
    assert r.returncode == 2 and "does not match" in r.stderr
    (d / "up.sql").write_text("COMMENT ON EXTENSION pg_trgm IS 'trigram matching';\n")
    r = run_cli("privileged", "verify", "--to", "1.2.0", "--token", bundle["token"], "--confirmed-by", "dba", *m)
    assert r.returncode == 0, r.stderr
    assert query(database, "SELECT version, confirmed_by FROM privileged_grants ORDER BY version") == [
        (14, "dba (verified in the catalog)"), (17, f"dba (token {bundle['token']})")]


class Terminal(io.StringIO):
    """Typed answers on a standard input that says it is a terminal, so the command asks."""

    def isatty(self) -> bool:
        return True


def test_exit_3_comes_before_the_question_and_names_whole_statements(app_db, database, monkeypatch, capsys):
    from pgferry.tui.cli import main

    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    rc = main(["upgrade", "--to", "1.2.0", "--dsn", app_db, "--migrations", str(SMALL), "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 3, err
    assert "Type 'yes'" not in out + err, "asked for a yes it could not honour"
    assert "main 14 enable pg_trgm (CREATE EXTENSION IF NOT EXISTS pg_trgm)" in err
    assert tables(database) == 0


def test_a_failed_verify_claims_no_record(app_db, capsys):
    from pgferry.tui.cli import main

    rc = main(["privileged", "verify", "--to", "1.2.0", "--dsn", app_db, "--migrations", str(SMALL)])
    out, err = capsys.readouterr()
    assert rc == 3, err
    assert "✗ not done" in out and "main 14" in out
    assert "recorded 0 step(s)" not in err and "nothing was recorded" in err
