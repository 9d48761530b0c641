"""What must hold before a move between releases starts: the database looks like its release (no
drift, or only what an open attempt the run settles left), no preflight check fails, and no
privileged step waits for someone else. Each refusal raises the PgferryError that says why (exit 5
drift, 4 dirty, 1 preflight, 3 privileged); nothing is changed. The command line and the terminal
UI ask these same questions, so both refuse the same moves."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from ..definitions.catalog import Definitions
from ..errors import DirtyDatabase, DriftFound, PreflightFailed, PrivilegeRequired
from ..plan.planner import Plan
from ..privileges.privileges import Bundle, build_bundle, describe_items, needs_someone_else
from ..repair.drift import check, load_ignore
from ..repair.expected import expected_path
from ..repair.recovery import diagnose, explains, split_by_plan
from .planning import Connections
from .preflight import preflight_failures


def ignore_nothing(text: str) -> None:
    pass


def check_before_move(defs: Definitions, conns: Connections, plan: Plan, *, drift: bool = True,
                      preflight: bool = True, privileged_dsn: str | None = None,
                      note: Callable[[str], None] = ignore_nothing) -> None:
    """Refuse a move whose database does not look like its release, that a preflight check fails, or
    that has a privileged step only someone else can run. `note` hears why a check was not made (a
    database between releases, no expected shape shipped)."""
    if drift and plan.direction in ("upgrade", "downgrade"):
        check_drift(defs, conns, plan, note)
    if preflight:
        failed = preflight_failures(defs, conns, plan)
        if failed:
            raise PreflightFailed(failed, plan.to_version)
    check_privileges(plan, conns, privileged_dsn=privileged_dsn)


def check_drift(defs: Definitions, conns: Connections, plan: Plan, note: Callable[[str], None] = ignore_nothing) -> None:
    """A database that does not look like its release is refused before anything runs (exit 5)."""
    if " + " in plan.from_label:
        # A half-finished move (e.g. resuming after a crash) has objects of the next release:
        # they would all show up as drift. The per-step checks of the run itself still apply.
        note(f"skipping the drift check: the database is between releases ({plan.from_label})")
        return
    if plan.from_version and not expected_path(defs, plan.from_version).is_file():
        note(f"no expected shape shipped for {plan.from_version}: drift not checked "
             "(`pgferry describe --expected --write` makes them)")
        return
    default = Path(defs.root) / "drift-ignore.yaml"
    rules = [r for f in ([default] if default.is_file() else []) for r in load_ignore(f)]
    reports = [r for r in check(defs, dict(conns.dsns), bookkeeping_schema=conns.bookkeeping_schema, rules=rules)
               if r.differences and not r.busy]  # busy: another migrator moved it on since the plan
    if reports:
        check_open_attempts(defs, conns, plan, reports)  # leaves what open attempts do not explain
    if reports:
        n = sum(len(r.differences) for r in reports)
        first = reports[0].differences[0]
        raise DriftFound(
            f"{reports[0].database} does not match release {reports[0].version}: {n} difference(s), e.g. "
            f"{first.kind} {first.object} {first.problem}. Nothing was changed.",
            hint="`pgferry drift` lists each difference with a fix; --skip-drift-check runs anyway")


def check_open_attempts(defs: Definitions, conns: Connections, plan: Plan, reports: list) -> None:
    """Drift from what an open attempt left is not drift to skip: the run settles the attempts it runs
    again (their leftovers are dropped from the reports), any other makes the database dirty (exit 4)."""
    settled, left = split_by_plan(diagnose(defs, dict(conns.dsns), conns.bookkeeping_schema), plan)
    for r in reports:
        r.differences = [d for d in r.differences if not explains(settled, d.kind, d.object)]
    reports[:] = [r for r in reports if r.differences]
    if left and reports:
        n = sum(len(r.differences) for r in reports)
        raise DirtyDatabase(f"the database is dirty: {'; '.join(p.headline for p in left)}; what it left may be "
                            f"part of the {n} difference(s) from the release. Nothing was changed.",
                            hint="; ".join(p.advice for p in left))


def waiting_for_someone_else(plan: Plan, conns: Connections) -> Bundle:
    """The plan's privileged steps the connected role cannot run and nobody has run yet (the
    catalog shows a DBA's work, or a grant is on record in the bookkeeping schema): no items when
    the move can go on alone."""
    dsns = dict(conns.dsns)
    bundle = build_bundle(plan, dsns)
    if bundle.empty:
        return bundle
    return replace(bundle, items=tuple(needs_someone_else(bundle, dsns, conns.bookkeeping_schema)))


def check_privileges(plan: Plan, conns: Connections, *, privileged_dsn: str | None = None) -> None:
    """Stop before touching anything when a privileged step needs someone else (exit 3). With a
    privileged connection the run itself takes those steps at their moment."""
    if privileged_dsn:
        return
    waiting = waiting_for_someone_else(plan, conns)
    if waiting.empty:
        return
    verb = "downgrade" if plan.direction == "downgrade" else "upgrade"
    if plan.direction == "downgrade":
        hint = (f"Re-run with --superuser-dsn so pgferry runs just those steps as a superuser at the right "
                f"moment; `pgferry privileged --to {plan.to_version} --allow-downgrade` shows them.")
    else:
        hint = (f"Hand `pgferry privileged --to {plan.to_version} --out privileged.sql` to a DBA to run as a "
                f"superuser, then run `pgferry privileged verify --to {plan.to_version}` and this {verb} again "
                "(or pass --superuser-dsn to let pgferry run just those steps).")
    raise PrivilegeRequired(
        f"This {verb} has {len(waiting.items)} privileged step(s) that role {waiting.role} cannot run: "
        f"{describe_items(waiting.items)}. Nothing was changed.", hint=hint)
