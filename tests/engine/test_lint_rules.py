"""The lint corpus: one case per statement rule of engine/definitions/lintrules.py. Each risky
statement, appended to a migration of the small product that alters tables of an earlier release,
draws exactly its rule's warning (naming the table, with the safe rewrite as its hint); its safe
rewrite draws none (`validate --strict` passes). The rules that predate issue 16 have their cases
in test_validate.py."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pgferry.engine.definitions.lint import LINT_RULES
from tests.broken import M12, U12, append, both, run_validate_json

SCRATCH = "CREATE TABLE IF NOT EXISTS scratch (a int);\n"  # made by the migration itself: the lint is quiet on it

# (rule, risky statement, message pattern, safe rewrite, or a waiver when the safe way is a process)
CORPUS = [
    ("add-column-volatile-default", "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS token uuid DEFAULT gen_random_uuid();",
     r"ADD COLUMN token on orgs with a volatile DEFAULT rewrites",
     "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS token uuid;\nALTER TABLE orgs ALTER COLUMN token SET DEFAULT gen_random_uuid();"),
    ("add-column-serial", "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS seq bigserial;", r"ADD COLUMN seq on orgs .* rewrites",
     "CREATE SEQUENCE IF NOT EXISTS orgs_seq_seq;\nALTER TABLE orgs ADD COLUMN IF NOT EXISTS seq bigint;\n"
     "ALTER TABLE orgs ALTER COLUMN seq SET DEFAULT nextval('orgs_seq_seq');"),
    ("add-unique-constraint", "ALTER TABLE orgs ADD CONSTRAINT orgs_name_key UNIQUE (name);",
     r"ADD UNIQUE \(name\) on orgs builds its index under ACCESS EXCLUSIVE",
     "ALTER TABLE orgs ADD CONSTRAINT orgs_name_key UNIQUE USING INDEX orgs_name_key;"),
    ("changing-column-type", "ALTER TABLE org_members ALTER COLUMN user_id TYPE numeric;",
     r"ALTER COLUMN user_id TYPE on org_members rewrites the table under ACCESS EXCLUSIVE",
     "ALTER TABLE org_members ADD COLUMN IF NOT EXISTS user_ref numeric;"),
    ("set-not-null", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
     r"SET NOT NULL on users.email scans the table under ACCESS EXCLUSIVE",
     "ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;"),
    ("drop-index-plain", "DROP INDEX IF EXISTS users_username;", r"DROP INDEX users_username takes ACCESS EXCLUSIVE",
     SCRATCH + "CREATE INDEX IF NOT EXISTS scratch_a ON scratch (a);\nDROP INDEX IF EXISTS scratch_a;"),
    ("reindex-plain", "REINDEX TABLE orgs;", r"REINDEX orgs blocks writes", SCRATCH + "REINDEX TABLE scratch;"),
    ("renaming-column", "ALTER TABLE users RENAME COLUMN email TO mail;", r"RENAME COLUMN users.email to mail",
     "ALTER TABLE users ADD COLUMN IF NOT EXISTS mail text;"),
    ("renaming-table", "ALTER TABLE orgs RENAME TO organisations;", r"RENAME TABLE orgs to organisations",
     "CREATE OR REPLACE VIEW organisations AS SELECT * FROM orgs;"),
    ("drop-column", "ALTER TABLE users DROP COLUMN IF EXISTS email;", r"DROP COLUMN email on users", {"drop-column": "no supported release reads users.email"}),
    ("drop-table", "DROP TABLE IF EXISTS org_members;", r"DROP TABLE org_members", {"drop-table": "no supported release uses org_members"}),
    ("truncate-cascade", "TRUNCATE orgs CASCADE;", r"TRUNCATE orgs CASCADE also empties", "TRUNCATE org_members, orgs;"),
    ("char-field", "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS code char(3);", r"orgs.code is char\(n\)",
     "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS code text;"),
    ("prefer-bigint", "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS rank integer;", r"orgs.rank is integer \(32-bit\)",
     "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS rank bigint;"),
    ("prefer-text-field", "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS title varchar(80);", r"orgs.title is varchar\(80\)",
     "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS title text;"),
    ("prefer-timestamptz", "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS seen_at timestamp;",
     r"orgs.seen_at is timestamp without time zone", "ALTER TABLE orgs ADD COLUMN IF NOT EXISTS seen_at timestamptz;"),
]
# Rules whose cases are in test_validate.py (LINT_CASES / NO_WARNING_CASES).
COVERED_IN_TEST_VALIDATE = {"create-index-plain", "add-column-not-null", "add-constraint-valid", "idempotency",
                            "empty-migration", "session-setting"}


def test_every_rule_has_a_case():
    assert {c[0] for c in CORPUS} | COVERED_IN_TEST_VALIDATE == set(LINT_RULES)


@pytest.mark.parametrize("rule,risky,message,safe", CORPUS, ids=[c[0] for c in CORPUS])
def test_risky_statement_draws_its_rule(small_copy, capsys, rule, risky, message, safe):
    append(U12, risky + "\n")(small_copy)
    rc, data = run_validate_json(small_copy, capsys)
    assert rc == 0 and data["errors"] == [], data
    assert [(w["rule"], w["path"], w["line"]) for w in data["warnings"]] == [(rule, f"migrations/{U12}", 3)], data["warnings"]
    w = data["warnings"][0]
    assert re.search(message, w["message"]), w["message"]
    assert f"waivers: {{{rule}: <reason>}}" in w["hint"] and len(w["hint"]) > 40


@pytest.mark.parametrize("rule,risky,message,safe", CORPUS, ids=[c[0] for c in CORPUS])
def test_safe_rewrite_passes(small_copy, capsys, rule, risky, message, safe):
    if isinstance(safe, dict):  # the safe way is a process: the author says so in a waiver
        (waived, reason), = safe.items()
        both(append(U12, risky + "\n"), append(M12, f"waivers:\n  {waived}: {reason}\n"))(small_copy)
    else:
        append(U12, safe + "\n")(small_copy)
    rc, data = run_validate_json(small_copy, capsys, "--strict")
    assert data == {"ok": True, "errors": [], "warnings": []}
    assert rc == 0


def test_quiet_on_a_table_the_migration_creates(small_copy, capsys):
    append(U12, SCRATCH + "ALTER TABLE scratch ALTER COLUMN a SET NOT NULL;\nALTER TABLE scratch ALTER COLUMN a TYPE bigint;\n"
                "ALTER TABLE scratch RENAME COLUMN a TO b;\nALTER TABLE scratch ADD COLUMN IF NOT EXISTS c int DEFAULT random();\n")(small_copy)
    rc, data = run_validate_json(small_copy, capsys, "--strict")
    assert data == {"ok": True, "errors": [], "warnings": []}


def test_every_rule_is_documented():
    docs = (Path(__file__).parents[2] / "docs" / "authoring.md").read_text(encoding="utf-8")
    table = docs[docs.index("### Lint rules"):]
    assert [r for r in LINT_RULES if f"`{r}`" not in table] == []
