"""`pgferry validate`: every rule of docs/design.md §3/§4 against a broken copy of the small product.

Each case copies tests/fixtures/small (the `small_copy` fixture), breaks exactly one thing and
runs the real command line in-process. It checks the exit code (2), that the findings are
exactly the expected ones (no cascade of follow-up errors), and that each names the file
relative to the definitions' parent folder and, where the rule has one, the line. Commands that
write must refuse the same definitions before touching the database.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pgferry.engine.definitions.lint import _idempotency_gap
from pgferry.engine.definitions.sqlfile import parse_script
from pgferry.tui.cli import main
from tests.broken import (
    CASE_IDS, CIC, D12, ERROR_CASES, M12, MAIN12, SQUASH, TRGM, U12, Case, Expect, append, both, copy_dir, remove,
    replace, run_validate, run_validate_json, write,
)
from tests.support import query


# One case of each family for the database tests (a fresh database each costs ~0.2 s).
WRITE_IDS = ["unknown-parent", "cycle", "duplicate-id", "missing-up", "yaml-unclosed", "privileged-str",
             "sql-syntax-inside", "begin-commit", "unmarked-create-extension", "privileged-mixed",
             "cic-two-statements", "down-drop-index-concurrently", "vacuum-up", "double-squash",
             "release-shrinks", "releases-missing"]
WRITE_CASES = [c for c in ERROR_CASES if c.id in WRITE_IDS]
assert len(WRITE_CASES) == len(WRITE_IDS)


def _matches(item: dict, e: Expect) -> bool:
    return (item["rule"] == e.rule and item["path"] in e.paths and item["line"] == e.line
            and re.search(e.message, item["message"]) is not None)


def _broken(small_copy: Path, case: Case) -> Path:
    case.mutate(small_copy)
    return small_copy


# -- the fixture itself is clean -----------------------------------------------------------


def test_small_fixture_is_clean(small_copy, capsys):
    rc, text = run_validate(small_copy, capsys, "--strict")
    assert rc == 0, text
    assert text.strip().endswith("0 error(s), 0 warning(s)")
    rc, data = run_validate_json(small_copy, capsys)
    assert rc == 0
    assert data == {"ok": True, "errors": [], "warnings": []}


def test_json_shape(small_copy, capsys):
    # a warning (lint runs only when there are no errors) ...
    append("main/11_users_bio/metadata.yaml", "waivers: {no-such-rule: because}\n")(small_copy)
    rc, warned = run_validate_json(small_copy, capsys)
    assert rc == 0 and warned["ok"] is True and warned["errors"] == [] and len(warned["warnings"]) == 1
    # ... and an error
    append(U12, "VACUUM orgs;\n")(small_copy)
    rc, failed = run_validate_json(small_copy, capsys)
    assert rc == 2 and failed["ok"] is False and len(failed["errors"]) == 1
    for data in (warned, failed):
        assert set(data) == {"ok", "errors", "warnings"}
    for item in warned["warnings"] + failed["errors"]:
        assert set(item) == {"path", "line", "message", "hint", "rule"}
        assert isinstance(item["path"], str) and isinstance(item["message"], str) and item["hint"]
        assert isinstance(item["line"], int)
    assert (failed["errors"][0]["path"], failed["errors"][0]["line"]) == (f"migrations/{U12}", 3)
    assert (warned["warnings"][0]["path"], warned["warnings"][0]["line"]) == ("migrations/main/11_users_bio/metadata.yaml", 3)
    # an error without a line (a missing file) has line null
    remove(D12)(small_copy)
    rc, data = run_validate_json(small_copy, capsys)
    missing = [e for e in data["errors"] if e["rule"] == "missing-file"]
    assert rc == 2 and len(missing) == 1 and missing[0]["line"] is None


# -- every error rule ------------------------------------------------------------------------


@pytest.mark.parametrize("case", ERROR_CASES, ids=CASE_IDS)
def test_error_rule(small_copy, capsys, case: Case):
    path = _broken(small_copy, case)

    rc, text = run_validate(path, capsys)
    assert rc == 2, text
    for e in case.expect:
        where = "|".join(re.escape(f"{p}:{e.line}" if e.line else p) for p in e.paths)
        assert re.search(rf"^({where}): error: .*{e.message.lstrip('^').rstrip('$')}", text, re.M), text
    assert f"{len(case.expect)} error(s)" in text, text

    rc, data = run_validate_json(path, capsys)
    assert rc == 2
    assert data["ok"] is False
    errors = data["errors"]
    # exactly the expected findings: one mistake must not cascade into unrelated errors
    assert len(errors) == len(case.expect), json.dumps(errors, indent=1)
    for e in case.expect:
        assert any(_matches(item, e) for item in errors), (e, json.dumps(errors, indent=1))
    for item in errors:
        assert not Path(item["path"]).is_absolute(), item
        assert item["hint"], item


@pytest.mark.parametrize("case", WRITE_CASES, ids=WRITE_IDS)
def test_writing_command_refuses_invalid_definitions(small_copy, database, capsys, case: Case):
    path = _broken(small_copy, case)
    capsys.readouterr()
    rc = main(["up", "--dsn", database, "--migrations", str(path)])
    err = capsys.readouterr().err
    assert rc == 2, err
    # the error names a file of the first finding (the command shows the first and a count)
    assert "error: " in err and any(p in err for e in case.expect for p in e.paths), err
    assert query(database, "SELECT to_regclass('public.migration_logs') IS NULL") == [(True,)]
    assert query(database, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = 'public'") == [(0,)]


def test_writing_command_writes_when_valid(small_copy, database, capsys):
    # the control for the test above: the same checks do see what `up` writes
    rc = main(["up", "--dsn", database, "--migrations", str(small_copy), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    assert query(database, "SELECT to_regclass('public.migration_logs') IS NOT NULL") == [(True,)]
    assert query(database, "SELECT count(*) > 0 FROM pg_tables WHERE schemaname = 'public'") == [(True,)]


# -- things that look risky but are fine -----------------------------------------------------


@pytest.mark.parametrize("mutate", [
    append(U12, "ANALYZE orgs;\n"),  # ANALYZE (unlike VACUUM) runs inside a transaction
    append(f"{TRGM}/up.sql", "COMMENT ON EXTENSION pg_trgm IS 'fuzzy search';\n"),  # privileged, all of it
    write(f"{CIC}/up.sql", "-- the index the events page needs\nCREATE INDEX CONCURRENTLY IF NOT EXISTS "
                           "events_kind_created_at\n    ON events (kind, created_at);\n"),
], ids=["analyze", "privileged-only", "cic-multiline"])
def test_valid_variations(small_copy, capsys, mutate):
    mutate(small_copy)
    rc, data = run_validate_json(small_copy, capsys, "--strict")
    assert data == {"ok": True, "errors": [], "warnings": []}
    assert rc == 0


# -- lint warnings and waivers -------------------------------------------------------------


LINT_CASES = [
    ("empty-down", write("main/12_orgs_slug/down.sql", "-- nothing\n"),
     "empty-migration", "main/12_orgs_slug/down.sql", 1, r"down\.sql has no statement"),
    # public.orgs is the same table as orgs: still not new in this release
    ("create-index-qualified", append(U12, "CREATE INDEX IF NOT EXISTS orgs_name ON public.orgs (name);\n"),
     "create-index-plain", U12, 3, r"plain CREATE INDEX"),
    # orgs is created by migration 2 (release 1.0.0), 12 ships in 1.1.0. The squash 10 also
    # creates orgs and is first needed by 1.1.0, but it only replays 1..3: orgs is not new.
    ("create-index-earlier-release", append(U12, "CREATE INDEX IF NOT EXISTS orgs_name ON orgs (name);\n"),
     "create-index-plain", U12, 3, r"plain CREATE INDEX"),
    ("create-index-earlier-release-users", append("main/11_users_bio/up.sql", "CREATE INDEX IF NOT EXISTS users_bio ON users (bio);\n"),
     "create-index-plain", "main/11_users_bio/up.sql", 2, r"plain CREATE INDEX"),
    ("add-column-not-null", append(U12, "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS code text NOT NULL;\n"),
     "add-column-not-null", U12, 3, r"ADD COLUMN code NOT NULL without DEFAULT"),
    ("add-foreign-key", append(U12, "ALTER TABLE org_members ADD CONSTRAINT org_members_user_fk2\n"
                                    "    FOREIGN KEY (user_id) REFERENCES users (id);\n"),
     "add-constraint-valid", U12, 3, r"ADD CONSTRAINT without NOT VALID"),
    ("add-check", append(U12, "\nALTER TABLE orgs ADD CONSTRAINT orgs_name_nonempty CHECK (name <> '');\n"),
     "add-constraint-valid", U12, 4, r"ADD CONSTRAINT without NOT VALID"),
    ("create-table-not-idempotent", append(U12, "CREATE TABLE org_tags (org_id bigint, tag text);\n"),
     "idempotency", U12, 3, r"CREATE TABLE without IF NOT EXISTS"),
    ("add-column-not-idempotent", write(U12, "ALTER TABLE orgs ADD COLUMN slug text;\n"),
     "idempotency", U12, 1, r"ADD COLUMN without IF NOT EXISTS"),
    ("unknown-waiver", append(M12, "waivers:\n  no-such-rule: because\n"),
     "waiver", M12, 3, r"waiver for unknown rule 'no-such-rule'"),
    # a session-level setting reaches past the migration (issue 13 §2)
    ("session-set", append(U12, "SET lock_timeout = 0;\n"),
     "session-setting", U12, 3, r"^SET lock_timeout is session-level"),
    ("session-reset-all-down", append(D12, "RESET ALL;\n"),
     "session-setting", D12, 2, r"^RESET ALL is session-level.*drops pgferry's lock_timeout"),
    ("session-characteristics", append(U12, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;\n"),
     "session-setting", U12, 3, r"^SET SESSION CHARACTERISTICS is session-level"),
    # pg_dump's header pasted into a squash: linted though squashes are otherwise not
    ("session-set-config-squash", append(f"{SQUASH}/up.sql", "SELECT pg_catalog.set_config('search_path', '', false);\n"),
     "session-setting", f"{SQUASH}/up.sql", 16, r"^set_config\('search_path', \.\.\., false\) is session-level"),
    # a compatible_with that admits no older release (">=1.10" for 1.1.0) changes nothing: most likely a typo
    ("compatible-with-nothing", replace("releases.yaml", "notes: profiles view", 'compatible_with: ">=1.10"\n    notes: profiles view'),
     "releases-compatible", "releases.yaml", 10, r"^compatible_with of 1\.1\.0 admits no older release listed"),
    ("waiver-removed", replace("aux/3_jobs_state_index/metadata.yaml",
                               "waivers:\n  create-index-plain: aux_jobs holds a handful of rows\n", ""),
     "create-index-plain", "aux/3_jobs_state_index/up.sql", 1, r"plain CREATE INDEX"),
]


# Each statement the idempotency lint knows, without its guard and with it (parsed as migrations are).
IDEMPOTENCY = [
    ("CREATE TABLE t (a int)", "CREATE TABLE IF NOT EXISTS t (a int)", "CREATE TABLE without IF NOT EXISTS"),
    ("CREATE INDEX i ON t (a)", "CREATE INDEX IF NOT EXISTS i ON t (a)", "CREATE INDEX without IF NOT EXISTS"),
    ("CREATE SEQUENCE s", "CREATE SEQUENCE IF NOT EXISTS s", "CREATE SEQUENCE without IF NOT EXISTS"),
    ("CREATE SCHEMA s", "CREATE SCHEMA IF NOT EXISTS s", "CREATE SCHEMA without IF NOT EXISTS"),
    ("CREATE EXTENSION e", "CREATE EXTENSION IF NOT EXISTS e", "CREATE EXTENSION without IF NOT EXISTS"),
    ("DROP TABLE t", "DROP TABLE IF EXISTS t", "DROP without IF EXISTS"),
    ("ALTER TABLE t ADD COLUMN b int", "ALTER TABLE t ADD COLUMN IF NOT EXISTS b int", "ADD COLUMN without IF NOT EXISTS"),
    ("ALTER TABLE t DROP COLUMN b", "ALTER TABLE t DROP COLUMN IF EXISTS b", "DROP COLUMN without IF EXISTS"),
]


@pytest.mark.parametrize("bare,guarded,gap", IDEMPOTENCY, ids=[c[2] for c in IDEMPOTENCY])
def test_idempotency_gap_of_each_statement(bare, guarded, gap):
    (plain,), (safe,) = (parse_script("up.sql", f"{sql};\n").statements for sql in (bare, guarded))
    assert _idempotency_gap(plain.node) == gap
    assert _idempotency_gap(safe.node) is None


@pytest.mark.parametrize("name,mutate,rule,path,line,message", LINT_CASES, ids=[c[0] for c in LINT_CASES])
def test_lint_warning(small_copy, capsys, name, mutate, rule, path, line, message):
    mutate(small_copy)
    rc, data = run_validate_json(small_copy, capsys)
    assert data["errors"] == []
    assert rc == 0, data
    assert data["ok"] is True
    assert len(data["warnings"]) == 1, data["warnings"]
    w = data["warnings"][0]
    assert (w["rule"], w["path"], w["line"]) == (rule, f"migrations/{path}", line)
    assert re.search(message, w["message"]), w
    rc, text = run_validate(small_copy, capsys)
    assert rc == 0
    assert f"migrations/{path}:{line}: warning: " in text and "0 error(s), 1 warning(s)" in text
    # --strict turns warnings into a failure
    rc, data = run_validate_json(small_copy, capsys, "--strict")
    assert rc == 2 and data["ok"] is False and len(data["warnings"]) == 1


NO_WARNING_CASES = [
    ("create-index-same-migration-qualified", append("main/15_events/up.sql",
                                                     "CREATE INDEX IF NOT EXISTS events_user ON public.events (user_id);\n")),
    # events is created by 15 in the same release (1.2.0) as 16's plain index
    ("create-index-same-release", both(
        write(f"{CIC}/metadata.yaml", "name: index events\nparents: [15]\n"),
        write(f"{CIC}/up.sql", "CREATE INDEX IF NOT EXISTS events_kind_created_at ON events (kind, created_at);\n"))),
    ("create-index-same-migration", append("main/15_events/up.sql", "CREATE INDEX IF NOT EXISTS events_user ON events (user_id);\n")),
    ("create-index-unreleased", both(
        copy_dir(MAIN12, "main/17_tags", metadata="name: tags\nparents: [16]\n",
                 up="CREATE TABLE IF NOT EXISTS tags (id bigint, name text);\n", down="DROP TABLE IF EXISTS tags;\n"),
        copy_dir(MAIN12, "main/18_tags_name", metadata="name: tags by name\nparents: [17]\n",
                 up="CREATE INDEX IF NOT EXISTS tags_name ON tags (name);\n", down="DROP INDEX IF EXISTS tags_name;\n"))),
    ("add-column-not-null-default", append(U12, "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS code text NOT NULL DEFAULT '';\n")),
    ("add-foreign-key-not-valid", append(U12, "ALTER TABLE org_members ADD CONSTRAINT org_members_user_fk2 "
                                              "FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n")),
    ("add-check-not-valid", append(U12, "ALTER TABLE orgs ADD CONSTRAINT orgs_name_nonempty CHECK (name <> '') NOT VALID;\n")),
    ("non-idempotent-flag", both(append(U12, "CREATE TABLE org_tags (org_id bigint, tag text);\n"),
                                 append(M12, "nonIdempotent: true\n"))),
    ("waiver-idempotency", both(append(U12, "CREATE TABLE org_tags (org_id bigint, tag text);\n"),
                                append(M12, "waivers:\n  idempotency: created once by design\n"))),
    ("waiver-create-index", both(append(U12, "CREATE INDEX IF NOT EXISTS orgs_name ON orgs (name);\n"),
                                 append(M12, "waivers: {create-index-plain: orgs has a few hundred rows}\n"))),
    ("session-set-local", append(U12, "SET LOCAL lock_timeout = 0;\nSET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\n"
                                      "SELECT set_config('search_path', 'public', true);\n")),
    ("waiver-session-setting", both(append(U12, "SET lock_timeout = 0;\n"),
                                    append(M12, "waivers:\n  session-setting: the next migrations want it too\n"))),
    ("waiver-add-constraint", both(append(U12, "ALTER TABLE orgs ADD CONSTRAINT orgs_name_nonempty CHECK (name <> '');\n"),
                                   append(M12, "waivers:\n  add-constraint-valid: orgs is tiny\n"))),
]


@pytest.mark.parametrize("name,mutate", NO_WARNING_CASES, ids=[c[0] for c in NO_WARNING_CASES])
def test_no_lint_warning(small_copy, capsys, name, mutate):
    mutate(small_copy)
    rc, data = run_validate_json(small_copy, capsys, "--strict")
    assert data == {"ok": True, "errors": [], "warnings": []}
    assert rc == 0


def test_waiver_silences_only_its_rule(small_copy, capsys):
    append(U12, "CREATE INDEX orgs_name ON orgs (name);\n")(small_copy)
    append(M12, "waivers:\n  create-index-plain: orgs has a few hundred rows\n")(small_copy)
    rc, data = run_validate_json(small_copy, capsys)
    assert rc == 0
    assert [(w["rule"], w["line"]) for w in data["warnings"]] == [("idempotency", 3)]


@pytest.mark.parametrize("waiver", ['  idempotency: ""\n', "  idempotency:\n", "  idempotency: '   '\n"],
                         ids=["empty", "null", "blank"])
def test_waiver_without_reason_is_an_error(small_copy, capsys, waiver):
    append(U12, "CREATE TABLE org_tags (org_id bigint, tag text);\n")(small_copy)
    append(M12, "waivers:\n" + waiver)(small_copy)
    rc, text = run_validate(small_copy, capsys)
    assert rc == 2
    assert f"migrations/{M12}:4: error: waiver for 'idempotency' needs a reason" in text
    rc, data = run_validate_json(small_copy, capsys)
    assert rc == 2 and data["ok"] is False
    assert [(e["rule"], e["path"], e["line"]) for e in data["errors"]] == [("metadata-type", f"migrations/{M12}", 4)]
