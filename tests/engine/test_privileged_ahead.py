"""A DBA's privileged bundle, run ahead of the release the database is at, and run with psql
against a product whose schemas live in several databases (the demo's shape)."""
from __future__ import annotations

import json
import subprocess

import psycopg
import pytest
from psycopg import conninfo, sql

from tests.support import allow_create_in_public, as_role, bundled, cli, query

BUNDLED = bundled()
NEWEST = BUNDLED.releases.latest().version
PSQL = "/usr/bin/psql"


def app_database(pg_server, app_role, prefix: str = "t") -> tuple[str, str]:
    """(superuser DSN, app role DSN) of a new database where the app role may only create in
    schema public: the managed-PostgreSQL shape, as in `pgferry demo`."""
    admin = pg_server.create_database(prefix)
    allow_create_in_public(admin, app_role)
    return admin, as_role(admin, app_role)


def privileged_rows(dsn: str) -> list[tuple]:
    return query(dsn, "SELECT schema, version, manual, confirmed_by FROM migration_logs WHERE success AND up "
                      "AND manual ORDER BY schema, version")


def test_bundle_verified_ahead_of_the_target_is_recorded_at_its_turn(pg_server, app_role, capsys):
    admin, app = app_database(pg_server, app_role)
    m = ["--dsn", app]
    privileged = {(s, i) for s, g in BUNDLED.schemas.items() for i, mig in g.migrations.items() if mig.privileged}
    rc, bundle, err = cli(capsys, "privileged", "--to", "latest", *m)
    assert rc == 0, err
    with psycopg.connect(admin, autocommit=True) as dba:  # the DBA runs the whole bundle at once
        dba.execute(bundle)
    rc, out, err = cli(capsys, "privileged", "verify", "--to", "latest", "--confirmed-by", "dba-alice", *m)
    assert rc == 0, out + err
    assert query(admin, "SELECT to_regclass('migration_logs')") == [(None,)]  # held, nothing applied
    assert query(admin, "SELECT count(*) FROM privileged_grants WHERE applied_at IS NULL") == [(len(privileged),)]

    # step by step: an intermediate release first (pg_trgm is in it; citext and btree_gin are later)
    rc, _, err = cli(capsys, "upgrade", "--to", "3.23.0", "--yes", "--no-progress", *m)
    assert rc == 0, err
    assert json.loads(cli(capsys, "status", "--json", *m)[1])["version"] == "3.23.0"
    assert [(s, v) for s, v, *_ in privileged_rows(admin)] == [("frontend", 1605500017)]

    rc, _, err = cli(capsys, "upgrade", "--to", "latest", "--yes", "--no-progress", *m)
    assert rc == 0, err
    assert json.loads(cli(capsys, "status", "--json", *m)[1])["version"] == NEWEST
    rows = privileged_rows(admin)
    assert {(s, v) for s, v, *_ in rows} == privileged and len(rows) == len(privileged)  # each once
    assert all(by == "dba-alice (verified in the catalog)" for *_, by in rows)
    # at its turn: after every parent's row, in the run that reached it
    for schema, version in privileged:
        parents = BUNDLED.schemas[schema].migrations[version].parents
        assert query(admin, "SELECT (SELECT id FROM migration_logs WHERE schema = %s AND version = %s AND success) > "
                            "(SELECT max(id) FROM migration_logs WHERE schema = %s AND version = ANY(%s) AND success)",
                     [schema, version, schema, list(parents)]) == [(True,)]
    assert query(admin, "SELECT count(*) FROM privileged_grants WHERE applied_at IS NULL") == [(0,)]
    assert query(admin, "SELECT count(*) FROM privileged_grants g JOIN migration_logs l ON l.id = g.applied_log_id "
                        "WHERE l.version = g.version AND l.manual") == [(len(privileged),)]


# -- one bundle, several databases: psql -f puts each step where it belongs ----------------------

SECRET = "pw-never-in-the-bundle"


def test_bundle_for_several_databases_runs_with_psql_f(pg_server, app_role, tmp_path, capsys):
    # Like `pgferry demo`: one database per schema, the product's role may only create in public.
    # The frontend database's name needs quoting in a \connect line (quote, backslash, '=', space).
    weird = "front'end\\db x=1"
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(weird)))
    pg_server.created.append(weird)
    allow_create_in_public(pg_server.dsn(weird), app_role)
    admins = {"frontend": pg_server.dsn(weird)}
    for schema in ("codeintel", "codeinsights"):
        admins[schema] = app_database(pg_server, app_role, schema[:5])[0]
    apps = {s: conninfo.make_conninfo(as_role(d, app_role), password=SECRET) for s, d in admins.items()}
    flags = ["--dsn", apps["frontend"], *(f"--schema-dsn={s}={d}" for s, d in apps.items())]
    out = tmp_path / "privileged.sql"
    rc, _, err = cli(capsys, "privileged", "--to", "latest", "--out", str(out), *flags)
    assert rc == 0, err
    text = out.read_text()
    connects = [line for line in text.splitlines() if line.startswith("\\connect")]
    assert SECRET not in text and len(connects) == 2, text  # frontend's part, then codeintel's

    # the DBA, connected to another database altogether
    r = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(out), pg_server.admin_dsn],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr

    def extensions(dsn: str) -> set[str]:
        return {e for (e,) in query(dsn, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'")}

    assert extensions(admins["frontend"]) == {"pg_trgm", "citext"}
    assert extensions(admins["codeintel"]) == {"btree_gin"}
    assert extensions(admins["codeinsights"]) == set() and extensions(pg_server.admin_dsn) == set()
    rc, shown, err = cli(capsys, "privileged", "verify", "--to", "latest", *flags)
    assert rc == 0, shown + err


def test_a_database_name_psql_cannot_carry_is_refused():
    from pgferry.engine.errors import UsageError
    from pgferry.engine.privileges.privileges import psql_connect

    assert psql_connect("shop") == "\\connect -reuse-previous=on 'dbname=shop'"
    with pytest.raises(UsageError, match="control characters"):
        psql_connect("shop\n\\! rm -rf ~")
