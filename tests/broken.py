"""Ways to break a copy of the small product (tests/fixtures/small), and the findings `pgferry
validate` must give for each (ERROR_CASES: used by tests/engine/test_validate.py and the bad-input corpus
of tests/faults)."""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pgferry.tui.cli import main
from tests.support import SMALL


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
    # compatible_with (issue 15 §3): a version range, quoted; a number or a blank is no range
    Case("release-bad-compatible-with", replace(REL, "notes: profiles view", 'compatible_with: "1.0.0 or later"\n    notes: profiles view'),
         (E("releases-format", REL, L110 + 2, r"invalid compatible_with range '1\.0\.0 or later'"),)),
    Case("release-number-compatible-with", replace(REL, "notes: profiles view", "compatible_with: 1.0\n    notes: profiles view"),
         (E("releases-format", REL, L110 + 2, r"invalid compatible_with range 1\.0"),)),
    Case("release-blank-compatible-with", replace(REL, "notes: profiles view", "compatible_with: ''\n    notes: profiles view"),
         (E("releases-format", REL, L110 + 2, r"invalid compatible_with range ''"),)),
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
