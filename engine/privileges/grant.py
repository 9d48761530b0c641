"""Completing a privileged bundle (docs/design.md §8): check the catalog, record what a DBA did, or run
the bundle on a superuser connection someone hands us.

`pgferry privileged verify` and the UI's privileged screen share these rules: record all or
nothing, and steps the catalog cannot show need the token. What is recorded is a grant per
step (grantlog.py): the migrator records each step applied when it reaches it, so a bundle run
ahead of the database's release never leaves an applied set that matches no release.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from psycopg import conninfo

from ..connection import connect, with_database
from ..errors import PrivilegeRequired
from ..plan.planner import Plan
from .privileges import Bundle, Verification, build_bundle, hold_grants, verify


@dataclass(frozen=True)
class BundleCheck:
    token: str  # of every privileged step of the plan (what the DBA was handed)
    # Steps someone else had to run, plus privileged steps already done; steps the role can run
    # itself and that are not done yet stay for the upgrade to run.
    results: tuple[Verification, ...]

    @property
    def missing(self) -> list[Verification]:
        return [v for v in self.results if v.missing]

    @property
    def unknowable(self) -> list[Verification]:
        return [v for v in self.results if v.unknowable]

    def complete(self, token_confirmed: bool = False) -> bool:
        return not self.missing and (token_confirmed or not self.unknowable)

    def of(self, schema: str, migration_id: int, up: bool) -> Verification | None:
        return next((v for v in self.results if (v.item.schema, v.item.migration_id, v.item.up)
                     == (schema, migration_id, up)), None)


def check_bundle(plan: Plan, dsns: Mapping[str, str], bookkeeping_schema: str = "public") -> BundleCheck:
    """Read-only: which privileged steps of the plan the catalog shows done (or were granted)."""
    everything = build_bundle(plan, dict(dsns), include_runnable=True)
    results = [v for v in verify(everything, dict(dsns), bookkeeping_schema) if v.done or v.item.reasons]
    return BundleCheck(everything.token, tuple(results))


def record_check(check: BundleCheck, dsns: Mapping[str, str], who: str, bookkeeping_schema: str = "public",
                 token_confirmed: bool = False) -> list[int]:
    """Hold the checked steps as granted, naming who confirmed them and how; each is recorded
    applied (manual) when a run reaches it. Returns the ids newly held."""
    if not check.complete(token_confirmed):
        raise PrivilegeRequired(
            f"{len(check.missing)} privileged step(s) are not done yet and {len(check.unknowable)} cannot be "
            "checked in the catalog; nothing was recorded.",
            hint=f"run the bundle as a superuser; confirm the steps the catalog cannot show with its token "
                 f"(--token {check.token})")
    recorded = hold_grants([v.item for v in check.results if v.verified], dict(dsns),
                           f"{who} (verified in the catalog)", bookkeeping_schema)
    recorded += hold_grants([v.item for v in check.unknowable], dict(dsns), f"{who} (token {check.token})",
                            bookkeeping_schema)
    return recorded


def in_database_of(superuser_dsn: str, dsn: str) -> str:
    """The superuser connection pointed at the database `dsn` names: each step runs where its schema lives."""
    return with_database(superuser_dsn, conninfo.conninfo_to_dict(dsn).get("dbname") if dsn else None)


def run_bundle(bundle: Bundle, dsns: Mapping[str, str], superuser_dsn: str) -> str:
    """Run exactly the bundle's statements as the superuser, one transaction per step; returns that role.

    Nothing is recorded here: the caller verifies in the catalog and records, as for a DBA's work."""
    who = ""
    for item in bundle.items:
        with connect(in_database_of(superuser_dsn, dsns[item.schema]), role="privileged") as su:
            who = su.execute("SELECT current_user").fetchone()[0]
            with su.transaction():
                for st in item.statements:
                    su.execute(st.text)
    return who
