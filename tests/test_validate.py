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
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import SMALL, query
from pgferry.tui.cli import main


# -- helpers -----------------------------------------------------------------------------------


def _file(root: Path, rel: str) -> Path:
    path = root / rel
    assert path.exists(), f"fixture changed: {rel} is gone"
    return path


def write(rel: str, text: str):
    def mutate(root: Path) -> None:
        (root / rel).write_text(text)
    return mutate


def append(rel: str, text: str):
    def mutate(root: Path) -> None:
        path = _file(root, rel)
        path.write_text(path.read_text() + text)
    return mutate


def replace(rel: str, old: str, new: str):
    def mutate(root: Path) -> None:
        path = _file(root, rel)
        text = path.read_text()
        assert old in text, f"fixture changed: {old!r} not in {rel}"  # never a silent no-op
        path.write_text(text.replace(old, new, 1))
    return mutate


def remove(rel: str):
    def mutate(root: Path) -> None:
        _file(root, rel).unlink()
    return mutate


def copy_dir(src: str, dst: str, **files: str):
    """Copy a migration folder, then overwrite some of its files (up, down, metadata)."""
    names = {"up": "up.sql", "down": "down.sql", "metadata": "metadata.yaml"}

    def mutate(root: Path) -> None:
        shutil.copytree(_file(root, src), root / dst)
        for key, text in files.items():
            (root / dst / names[key]).write_text(text)
    return mutate


def both(*mutations):
    def mutate(root: Path) -> None:
        for m in mutations:
            m(root)
    return mutate


def run_validate(path: Path, capsys, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["validate", "--migrations", str(path), *extra])
    out = capsys.readouterr()
    return rc, out.err


def run_validate_json(path: Path, capsys, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(["validate", "--migrations", str(path), "--json", *extra])
    out = capsys.readouterr()
    return rc, json.loads(out.out)


@dataclass(frozen=True)
class Expect:
    rule: str
    paths: tuple[str, ...]  # any of these; relative to the definitions' parent (`migrations/...`)
    line: int | None
    message: str  # a regular expression searched in the message


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[Path], None]
    expect: tuple[Expect, ...]


def E(rule: str, path: str | tuple[str, ...], line: int | None, message: str) -> Expect:
    paths = (path,) if isinstance(path, str) else path
    return Expect(rule, tuple("migrations/" + p for p in paths), line, message)


def meta(*ids: int) -> tuple[str, ...]:
    """metadata.yaml of any of these migrations of schema main."""
    return tuple(f"main/{d.name}/metadata.yaml" for d in sorted((SMALL / "main").iterdir())
                 if int(d.name.split("_")[0]) in ids)


MAIN12 = "main/12_orgs_slug"
M12, U12, D12 = f"{MAIN12}/metadata.yaml", f"{MAIN12}/up.sql", f"{MAIN12}/down.sql"
TRGM = "main/14_pg_trgm"
CIC = "main/16_events_kind_index"
SQUASH = "main/10_squashed_base"
REL = "releases.yaml"
# releases.yaml of the fixture: items start on lines 5 (1.0.0), 8 (1.1.0) and 11 (1.2.0).
L100, L110, L120 = 5, 8, 11
ALIAS_BOMB = "name: orgs slug\nparents: [10]\nl1: &l1 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(2, 10))
SQUASH_META = "name: squashed base schema\nparents: []\nreplaces: [1, 2, 3]\nnonIdempotent: true\n"


def rotations(*ids: int) -> str:
    """A regex for `cycle: a -> b -> ... -> a` starting anywhere on the cycle."""
    alts = []
    for i in range(len(ids)):
        r = ids[i:] + ids[:i]
        alts.append(" -> ".join(map(str, r + (r[0],))))
    return "cycle: (" + "|".join(re.escape(a) for a in alts) + ")$"


ERROR_CASES = [
    # -- the graph ------------------------------------------------------------------------
    Case("unknown-parent", write(M12, "name: orgs slug\nparents: [99]\n"),
         (E("unknown-parent", M12, 2, r"unknown parent 99"),)),
    Case("cycle", write("main/11_users_bio/metadata.yaml", "name: users bio\nparents: [10, 13]\n"),
         # the finding sits on one migration of the cycle; which one is networkx's choice
         (E("cycle", meta(11, 13), 2, rotations(11, 13)),)),
    Case("self-parent", write(M12, "name: orgs slug\nparents: [10, 12]\n"),
         (E("cycle", M12, 2, r"cannot be its own parent"),)),
    Case("two-roots", write(M12, "name: orgs slug\nparents: []\n"),
         (E("multiple-roots", M12, 2, r"schema main has 2 roots \(1, 12\)"),)),
    Case("no-root", both(write("main/1_create_users/metadata.yaml", "name: create users\nparents: [3]\n"),
                         write(f"{SQUASH}/metadata.yaml", SQUASH_META.replace("parents: []", "parents: [3]"))),
         (E("no-root", "main/1_create_users/metadata.yaml", 2, r"schema main has no root"),
          E("cycle", meta(1, 2, 3), 2, rotations(1, 2, 3)))),
    Case("duplicate-id", copy_dir(MAIN12, "main/12_orgs_slug_again"),
         (E("duplicate-id", "main/12_orgs_slug_again", None, r"duplicate migration id 12 \(also migrations/main/12_orgs_slug\)"),)),
    Case("folder-name-case", copy_dir(MAIN12, "main/17_Orgs Slug", metadata="name: x\nparents: [16]\n"),
         (E("folder-name", "main/17_Orgs Slug", None, r"'17_Orgs Slug' is not a migration folder name"),)),
    Case("folder-name-zero", copy_dir(MAIN12, "main/0_zero", metadata="name: x\nparents: [16]\n"),
         (E("folder-name", "main/0_zero", None, r"'0_zero' is not a migration folder name"),)),
    Case("missing-up", remove(U12), (E("missing-file", U12, None, r"^missing up\.sql$"),)),
    Case("missing-down", remove(D12), (E("missing-file", D12, None, r"^missing down\.sql$"),)),
    Case("missing-metadata", remove(M12), (E("missing-file", M12, None, r"^missing metadata\.yaml$"),)),
    # -- metadata.yaml --------------------------------------------------------------------
    Case("yaml-unclosed", write(M12, "name: orgs slug\nparents: [10\nprivileged: true\n"),
         (E("yaml-syntax", M12, 3, r"^invalid YAML: "),)),
    Case("yaml-indent", write(M12, "name: orgs slug\nparents: [10]\n  extra: indented\n"),
         (E("yaml-syntax", M12, 3, r"^invalid YAML: "),)),
    Case("yaml-tab", write(M12, "name: orgs slug\nparents:\n\t- 10\n"),
         (E("yaml-syntax", M12, 3, r"^invalid YAML: .*'\\t'"),)),
    Case("yaml-duplicate-key", write(M12, "name: orgs slug\nparents: [10]\nparents: [11]\n"),
         (E("yaml-syntax", M12, 3, r"duplicate key 'parents' \(also on line 2\)"),)),
    # a "billion laughs": nine levels of nine aliases would expand to 9**9 strings
    Case("yaml-alias-bomb", write(M12, ALIAS_BOMB),
         (E("yaml-syntax", M12, 4, r"^invalid YAML: alias \*l1 \(anchors and aliases are not allowed here\)"),)),
    Case("parents-str", write(M12, 'name: orgs slug\nparents: "3"\n'),
         (E("metadata-type", M12, 2, r"parents must be a list, not str"),)),
    Case("parents-item", write(M12, "name: orgs slug\nparents:\n  - 10\n  - -4\n"),
         (E("metadata-type", M12, 4, r"positive integer migration ids, found -4"),)),
    Case("privileged-str", write(M12, 'name: orgs slug\nparents: [10]\nprivileged: "yes"\n'),
         (E("metadata-type", M12, 3, r"privileged must be a bool, not str"),)),
    Case("unknown-key", write(M12, "name: orgs slug\nparents: [10]\ncolour: blue\n"),
         (E("metadata-key", M12, 3, r"unknown key 'colour'"),)),
    Case("metadata-list", write(M12, "- name\n- parents\n"),
         (E("metadata-type", M12, 1, r"must be a mapping"),)),
    Case("metadata-no-parents", write(M12, "name: orgs slug\n"),
         (E("metadata-key", M12, 1, r"missing key 'parents'"),)),
    # -- SQL --------------------------------------------------------------------------------
    Case("sql-syntax-statement", write(U12, "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS slug text;\n"
                                            "UPDATE orgs SET slug = lower(name);\n"
                                            "\n"
                                            "SELEC 1;\n"),
         (E("sql-syntax", U12, 4, r"unparsable SQL: syntax error at or near \"SELEC\""),)),
    Case("sql-syntax-inside", write(U12, "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS slug text;\n"
                                         "\n"
                                         "UPDATE orgs\n"
                                         "   SET slug = lower(name)\n"
                                         " WHERE slug IS NULL AND;\n"),
         # the line of the offending token inside the three-line statement
         (E("sql-syntax", U12, 5, r"unparsable SQL: syntax error at or near \";\""),)),
    Case("sql-syntax-down", append(D12, "DROP TABLE IF EXISTS;\n"),
         (E("sql-syntax", D12, 2, r"unparsable SQL"),)),
    Case("begin-commit", write(U12, "BEGIN;\nALTER TABLE orgs ADD COLUMN IF NOT EXISTS slug text;\nCOMMIT;\n"),
         (E("transaction-control", U12, 1, r"explicit transaction control \(BEGIN\)"),
          E("transaction-control", U12, 3, r"explicit transaction control \(COMMIT\)"))),
    Case("rollback-down", append(D12, "ROLLBACK;\n"),
         (E("transaction-control", D12, 2, r"explicit transaction control \(ROLLBACK\)"),)),
    Case("unmarked-create-extension", append(U12, "CREATE EXTENSION IF NOT EXISTS hstore;\n"),
         (E("privileged-unmarked", U12, 3, r"privileged statement \(CREATE EXTENSION\) in a migration not marked privileged"),)),
    Case("unmarked-create-role", append(U12, "\nCREATE ROLE app_reader;\n"),
         (E("privileged-unmarked", U12, 4, r"\(CREATE ROLE\)"),)),
    Case("unmarked-alter-system", append(U12, "ALTER SYSTEM SET work_mem = '64MB';\n"),
         (E("privileged-unmarked", U12, 3, r"\(ALTER SYSTEM\)"),
          E("non-transactional", U12, 3, r"ALTER SYSTEM cannot run inside a transaction"))),
    Case("unmarked-comment-extension", append(D12, "COMMENT ON EXTENSION pg_trgm IS 'fuzzy';\n"),
         (E("privileged-unmarked", D12, 2, r"\(COMMENT ON EXTENSION\)"),)),
    Case("privileged-none", append(M12, "privileged: true\n"),
         (E("privileged-none", M12, 3, r"marked privileged but up\.sql has no privileged statement"),)),
    Case("privileged-mixed", append(f"{TRGM}/up.sql", "CREATE TABLE IF NOT EXISTS trgm_words (w text);\n"),
         (E("privileged-mixed", f"{TRGM}/up.sql", 2, r"mixes privileged and ordinary statements"),)),
    Case("privileged-mixed-down", append(f"{TRGM}/down.sql", "DROP TABLE IF EXISTS trgm_words;\n"),
         (E("privileged-mixed", f"{TRGM}/down.sql", 2, r"down\.sql mixes privileged and ordinary"),)),
    Case("cic-two-statements", append(f"{CIC}/up.sql", "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_user ON events (user_id);\n"),
         (E("cic-flag", f"{CIC}/up.sql", 2, r"exactly one CREATE INDEX CONCURRENTLY and nothing else \(found 2"),)),
    Case("cic-not-concurrent", write(f"{CIC}/up.sql", "\nCREATE INDEX IF NOT EXISTS events_kind_created_at ON events (kind, created_at);\n"),
         (E("cic-flag", f"{CIC}/up.sql", 2, r"exactly one CREATE INDEX CONCURRENTLY and nothing else \(found 1"),)),
    Case("cic-plus-analyze", append(f"{CIC}/up.sql", "ANALYZE events;\n"),
         # ANALYZE is fine in a transaction: only the flag rule may fire, not non-transactional
         (E("cic-flag", f"{CIC}/up.sql", 2, r"\(found 2 statement"),)),
    Case("cic-unnamed", write(f"{CIC}/up.sql", "CREATE INDEX CONCURRENTLY ON events (kind, created_at);\n"),
         (E("cic-flag", f"{CIC}/up.sql", 1, r"must name its index"),)),
    Case("cic-empty", write(f"{CIC}/up.sql", "-- nothing yet\n"),
         (E("cic-flag", f"{CIC}/up.sql", None, r"\(found 0 statement"),)),
    Case("cic-unflagged", append(U12, "CREATE INDEX CONCURRENTLY IF NOT EXISTS orgs_slug ON orgs (slug);\n"),
         (E("cic-unmarked", U12, 3, r"CREATE INDEX CONCURRENTLY in a migration without createIndexConcurrently"),)),
    Case("down-drop-index-concurrently", write(f"{CIC}/down.sql", "DROP INDEX CONCURRENTLY IF EXISTS events_kind_created_at;\n"),
         (E("concurrent-down", f"{CIC}/down.sql", 1, r"CONCURRENTLY in down\.sql"),)),
    Case("down-reindex-concurrently", append(D12, "REINDEX TABLE CONCURRENTLY orgs;\n"),
         (E("concurrent-down", D12, 2, r"CONCURRENTLY in down\.sql"),)),
    Case("vacuum-up", append(U12, "VACUUM orgs;\n"),
         (E("non-transactional", U12, 3, r"VACUUM cannot run inside a transaction"),)),
    Case("vacuum-down", append(D12, "VACUUM (ANALYZE) orgs;\n"),
         (E("non-transactional", D12, 2, r"VACUUM cannot run inside a transaction"),)),
    # -- squashes -------------------------------------------------------------------------
    Case("replaces-unknown", write(f"{SQUASH}/metadata.yaml", SQUASH_META.replace("[1, 2, 3]", "[1, 2, 3, 42]")),
         (E("unknown-replaced", f"{SQUASH}/metadata.yaml", 3, r"replaces unknown migration 42"),)),
    Case("nested-squash", copy_dir(SQUASH, "main/20_squash_again",
                                   metadata="name: squash of a squash\nparents: []\nreplaces: [10, 11]\n"),
         (E("nested-squash", "main/20_squash_again/metadata.yaml", 3, r"replaces 10, which is itself a squash"),)),
    Case("double-squash", copy_dir(SQUASH, "main/20_second_squash",
                                   metadata="name: second squash\nparents: []\nreplaces: [1, 2]\n"),
         (E("double-squash", "main/20_second_squash/metadata.yaml", 3, r"migration 1 is also replaced by 10"),
          E("double-squash", "main/20_second_squash/metadata.yaml", 3, r"migration 2 is also replaced by 10"))),
    # -- releases.yaml --------------------------------------------------------------------
    Case("release-unknown-schema", replace(REL, "{main: [13], aux: [2]}", "{main: [13], aux: [2], billing: [1]}"),
         (E("release-leaves", REL, L110, r"release 1\.1\.0 names unknown schema 'billing'"),)),
    Case("release-unknown-leaf", replace(REL, "{main: [13], aux: [2]}", "{main: [13], aux: [99]}"),
         (E("release-leaves", REL, L110, r"release 1\.1\.0: aux leaf 99 does not exist"),)),
    Case("release-shrinks", replace(REL, "{main: [16], aux: [3]}", "{main: [12], aux: [3]}"),
         (E("release-shrinks", REL, L120, r"release 1\.2\.0: main drops 2 migration\(s\) of 1\.1\.0 \(e\.g\. 11\)"),)),
    Case("release-omits-schema", replace(REL, "{main: [13], aux: [2]}", "{main: [13]}"),
         (E("release-shrinks", REL, L110, r"release 1\.1\.0 omits schema aux, present in 1\.0\.0"),)),
    Case("release-order", replace(REL, "version: 1.1.0", "version: 0.9.0"),
         (E("releases-order", REL, L110, r"release 0\.9\.0 is not newer than the one before it"),)),
    Case("release-duplicate", replace(REL, "version: 1.1.0", "version: 1.0.0"),
         (E("releases-format", REL, L110, r"release 1\.0\.0 listed twice"),)),
    Case("release-bad-version", replace(REL, "version: 1.1.0", "version: one.one"),
         (E("releases-format", REL, L110, r"invalid version 'one\.one'"),)),
    Case("release-float-version", replace(REL, "version: 1.1.0", "version: 1.10"),
         # YAML reads 1.10 as the number 1.1: refused instead of silently renaming the release
         (E("releases-format", REL, L110, r"version 1\.1 is a number, not a version string"),)),
    Case("release-bad-postgres", replace(REL, 'postgres: ">=13"', 'postgres: "thirteen or newer"'),
         (E("releases-format", REL, 14, r"invalid postgres range 'thirteen or newer'"),)),
    Case("release-unknown-key", replace(REL, "notes: first release", "notes: first release\n    colour: blue"),
         (E("releases-format", REL, 8, r"unknown release key 'colour'"),)),
    Case("releases-missing", remove(REL),
         (E("missing-file", REL, None, r"^missing releases\.yaml$"),)),
    Case("releases-not-mapping", write(REL, "- version: 1.0.0\n  leaves: {main: [3], aux: [1]}\n"),
         (E("releases-format", REL, 1, r"expected a top-level `releases:` list"),)),
    Case("releases-yaml-syntax", write(REL, "releases:\n  - version: 1.0.0\n    leaves: {main: [3], aux: [1]\n"),
         (E("yaml-syntax", REL, 4, r"^invalid YAML: "),)),
]

CASE_IDS = [c.id for c in ERROR_CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS)
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
    ("waiver-removed", replace("aux/3_jobs_state_index/metadata.yaml",
                               "waivers:\n  create-index-plain: aux_jobs holds a handful of rows\n", ""),
     "create-index-plain", "aux/3_jobs_state_index/up.sql", 1, r"plain CREATE INDEX"),
]


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
