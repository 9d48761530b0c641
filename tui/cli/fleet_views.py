"""What `pgferry fleet` prints: the status grouped by release, the plans with totals per ring, the
coordinator's progress one line per event, and the outcome of a fleet upgrade."""
from __future__ import annotations

import sys
from collections import Counter

from pgferry.engine.safetext import printable

GLYPHS = {"succeeded": "✓", "failed": "✗", "paused": "⏸", "skipped": "–", "pending": "·", "claimed": "…",
          "running": "▶", "interrupted": "!"}


def say(text: str, file=None) -> None:
    print(printable(text, one_line=True), file=file or sys.stdout)


def print_status(inventory, rows) -> None:
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    say(f"fleet {inventory.name}: {len(rows)} instance(s)")
    for group, members in groups.items():
        say(f"{group} ({len(members)})")
        for r in members:
            notes = [n for n in (r.version if r.version != group else None, "dirty" if r.dirty else None,
                                 r.running, ("unreachable: " if r.unreachable else "") + r.problem if r.problem else None,
                                 f"paused: {r.instance.paused}" if r.instance.paused else None) if n]
            say(f"  {r.instance.ring:<10} {r.instance.name:<24} {'✗' if r.problem or r.dirty else '✓'} "
                f"{'; '.join(notes) or 'clean'}")


def print_plans(inventory, to: str, plans, bundle_dir: str | None) -> None:
    say(f"fleet {inventory.name} to {to}: {len(plans)} instance(s)")
    for ring in inventory.rings:
        mine = [p for p in plans if p.instance.ring == ring]
        if not mine:
            continue
        going = [p for p in mine if p.can_go and p.plan is not None and not p.plan.empty]
        steps = sum(len(p.plan.steps) for p in going)
        privileged = sum(len(p.privileged.items) for p in mine if p.privileged)
        blocked = [p for p in mine if not p.can_go]
        say(f"ring {ring}: {len(going)} to upgrade ({steps} step(s)), {len(mine) - len(going) - len(blocked)} already "
            f"at {to}, {len(blocked)} cannot go, {privileged} privileged step(s) for a DBA")
        for p in mine:
            if not p.can_go:
                say(f"  ✗ {p.instance.name}: cannot go: {p.blocker}")
                continue
            move = "nothing to do" if p.plan.empty else f"{p.plan.from_label} → {p.plan.to_version}, {len(p.plan.steps)} step(s)"
            extra = ""
            if p.privileged:
                ids = ", ".join(f"{i.schema} {i.migration_id}" for i in p.privileged.items)
                extra = f"; privileged for a DBA: {ids}" + (f" ({bundle_dir}/{p.instance.name}.sql)" if bundle_dir else "")
            say(f"  ✓ {p.instance.name}: {move}{extra}")


def progress(event) -> None:
    """The coordinator's events as lines on stderr (stdout stays for --json)."""
    from pgferry.engine.events import (Baking, FleetJoined, FleetStopped, InstanceClaimed, InstanceFinished,
                                       RingStarted, RingVerified)

    line = None
    if isinstance(event, FleetJoined):
        line = f"fleet {event.fleet}: run {event.run_id} to {event.to_version} ({event.how})"
    elif isinstance(event, RingStarted):
        line = f"ring {event.ring}: {event.instances} instance(s)"
    elif isinstance(event, InstanceClaimed):
        line = f"  … {event.name}"
    elif isinstance(event, InstanceFinished):
        move = f"{event.from_version or '?'} → {event.to_version or '-'}"
        why = f": {event.reason}" if event.reason else ""
        line = f"  {GLYPHS.get(event.status, '?')} {event.name} {event.status} {move} in {event.seconds:.1f}s{why}"
    elif isinstance(event, RingVerified):
        line = f"ring {event.ring}: readiness and preflight on {event.checked} instance(s): " + (
            "; ".join(event.failures) if event.failures else "all ready")
    elif isinstance(event, Baking):
        line = f"ring {event.ring}: baking {event.seconds:.0f}s before the next ring"
    elif isinstance(event, FleetStopped):
        line = f"fleet {event.status}: {event.reason}"
    if line:
        say(line, sys.stderr)


def print_result(result) -> None:
    counts = Counter(s.effective_status for s in result.states if s.name in result.selected)
    say(f"fleet run {result.run.id} to {result.run.to_version}: {result.run.status}; "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    for s in result.states:
        if s.name in result.selected and s.effective_status in ("failed", "paused", "interrupted"):
            say(f"  {GLYPHS.get(s.effective_status, '?')} {s.name} ({s.ring}) {s.effective_status}: {s.reason or ''}")
    if result.stopped:
        say(f"stopped: {result.stopped}")
