"""The bundled product, small: the oldest release with scaled-down demo data, and what "intact" means.

`seed_sql` is the demo seed (migrations/demo/seed/<schema>.sql, what `pgferry demo` loads) with
every large row count divided by `scale`, so that one oldest→newest upgrade takes seconds while
every out-of-band migration still has rows to rewrite in several batches.

`fingerprint` is what a trial compares with an uninterrupted reference run (`differences`): row
counts of every seeded table, and checksums of the rows the out-of-band migrations rewrite
(repo.stars, lsif_uploads.indexer_name/indexer_version, user_emails.email_lower,
insight_series_points). They compare what the data says, never ids a migration's serial column
handed out: a transaction killed and retried does not get the same ones back.
"""
from __future__ import annotations

import re
from pathlib import Path

import psycopg
from psycopg import sql

from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
from pgferry.engine.upgrade.upgrade import Connections, Upgrade

DEFS = load(bundled_migrations_dir())
OLDEST = DEFS.releases.releases[0].version
NEWEST = DEFS.releases.latest().version
SEED_DIR = Path(bundled_migrations_dir()) / "demo" / "seed"
DEFAULT_SCALE = 40

# Tables the seeds fill (all still there at the newest release).
SEEDED = {
    "frontend": ["global_state", "critical_and_site_config", "users", "user_emails", "orgs", "org_members",
                 "external_services", "repo", "external_service_repos", "settings", "saved_searches",
                 "access_tokens", "user_external_accounts", "survey_responses", "phabricator_repos", "event_logs"],
    "codeintel": ["lsif_uploads", "lsif_packages", "lsif_references", "lsif_indexes", "lsif_dirty_repositories",
                  "lsif_retention_configuration"],
}

# Checksums of what each out-of-band migration rewrites (order-independent: md5 of sorted rows).
OOB_CHECKSUMS = {
    "repo.stars": "SELECT md5(string_agg(id || ':' || coalesce(stars::text, '∅'), ',' ORDER BY id)) FROM repo",
    "lsif_uploads.indexer_name/version": (
        "SELECT md5(string_agg(id || ':' || coalesce(indexer_name, '∅') || ':' || coalesce(indexer_version, '∅'), ',' "
        "ORDER BY id)) FROM lsif_uploads"),
    "user_emails.email_lower": (
        "SELECT md5(string_agg(id || ':' || coalesce(email_lower::text, '∅'), ',' ORDER BY id)) FROM user_emails"),
    # Points hang off insight_series.id, a serial: a seed migration killed mid-way and retried takes
    # new ids (a sequence does not roll back). Compared by the series' natural key instead, and the
    # value (the backfill derives it from the id) by whether it is the one its series' id gives.
    "insight_series_points": (
        "SELECT md5(coalesce(string_agg(s.series_id || ':' || extract(epoch FROM p.\"time\")::bigint || ':' || "
        "(p.value = mod(s.id * 7919 + round(extract(epoch FROM TIMESTAMPTZ '2021-01-04 00:00:00+00' - p.\"time\") "
        "/ 604800)::integer * 104729, 5000)), ',' ORDER BY s.series_id, p.\"time\"), '')) "
        "FROM insight_series_points p JOIN insight_series s ON s.id = p.series_id"),
    "insight_series backfilled": "SELECT count(*) FILTER (WHERE backfill_completed_at IS NULL) FROM insight_series WHERE builtin",
}
OOB_SCHEMA = {"repo.stars": "frontend", "lsif_uploads.indexer_name/version": "codeintel",
              "user_emails.email_lower": "frontend", "insight_series_points": "codeinsights",
              "insight_series backfilled": "codeinsights"}


def seed_sql(schema: str, scale: int = DEFAULT_SCALE) -> str:
    text = (SEED_DIR / f"{schema}.sql").read_text()
    if scale <= 1:
        return text

    def small(m: re.Match) -> str:
        n = int(m.group(2))
        return m.group(1) + str(max(1, n // scale) if n >= 2000 else n) + m.group(3)

    text = re.sub(r"(generate_series\(1, )(\d+)(\))", small, text)
    return re.sub(r"(mod\([^,()]+, )(\d+)(\))", small, text)


def install_oldest(dsn: str, *, scale: int = DEFAULT_SCALE) -> None:
    """The oldest release (in-process, as `pgferry demo` does), then the scaled sample data."""
    Upgrade(DEFS, Connections({s: dsn for s in DEFS.schemas})).run(OLDEST)
    with psycopg.connect(dsn) as conn:
        for schema in DEFS.schemas:
            seed = SEED_DIR / f"{schema}.sql"
            if seed.exists():
                conn.execute(seed_sql(schema, scale))
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")


def target_sets(version: str = NEWEST) -> dict[str, set[int]]:
    r = DEFS.release(version)
    return {s: set(DEFS.schemas[s].normalize(DEFS.required(r, s))) for s in DEFS.schemas}


def differences(reference: dict, fp: dict) -> dict:
    """{what: (reference's value, this database's)} for each part of the fingerprints that differs."""
    return {k: (reference.get(k), fp.get(k)) for k in sorted(set(reference) | set(fp)) if reference.get(k) != fp.get(k)}


def fingerprint(dsn: str) -> dict:
    """Row counts of the seeded tables and checksums of the out-of-band rewrites."""
    out: dict = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema, tables in SEEDED.items():
            for t in tables:
                if conn.execute("SELECT to_regclass(%s)", [t]).fetchone()[0] is None:
                    continue  # renamed or dropped by a later release: the reference run has the same gap
                out[f"rows {t}"] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
        for name, q in OOB_CHECKSUMS.items():
            try:
                out[name] = conn.execute(q).fetchone()[0]
            except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
                out[name] = None
    return out
