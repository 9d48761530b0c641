"""Rich renderables of the server upgrade screen: the checks (glyph, word, fix, as preflight), the
three modes with the chosen one marked by a glyph and reverse video, its rollback plan, an
interrupted upgrade with what is safe, the run's steps, and a managed service's checklist.
Text from the server or the programs is never parsed as markup (Text, not markup strings)."""
from __future__ import annotations

from rich.text import Text

from pgferry.engine.server.managed import ManagedCheck
from pgferry.engine.server.modes import MODES
from pgferry.engine.server.plan import Inspection
from pgferry.engine.server.state import State
from pgferry.engine.sizes import human_size

from .server_model import DONE, FAILED, RUNNING, Form, Progress

GLYPH = {"pass": "✓", "warn": "!", "fail": "✗"}
STEP_GLYPH = {"pending": "○", RUNNING: "▶", DONE: "✓", FAILED: "✗"}


def checks(found, out: Text | None = None) -> Text:
    out = out if out is not None else Text()
    for c in found:
        out.append(f"{GLYPH[c.status]} {c.status:<4} ", style="bold")
        out.append(f"{c.name}: {c.reason}\n")
        for line in c.details:
            out.append(f"      {line}\n", style="dim")
        if c.fix:
            out.append(f"      fix: {c.fix}\n", style="italic")
    return out


def counts(found) -> str:
    n = {s: sum(c.status == s for c in found) for s in GLYPH}
    return f"{n['pass']} passed, {n['warn']} warning(s), {n['fail']} failed"


def headline(i: Inspection) -> Text:
    release = i.release.version if i.release else "none"
    verdict = ("✓ ready: s starts the upgrade" if i.ok else "✗ a check failed: nothing can start until it is fixed")
    return Text.assemble((f"PostgreSQL {i.old_major} → {i.new_major}", "bold"),
                         f" · release {release} · data {human_size(i.data_bytes)} · {counts(i.checks)}\n",
                         (verdict, "bold"))


def modes(i: Inspection, chosen: str) -> Text:
    """Every mode's time and disk from the data's size; the chosen one first-glance obvious without colour."""
    out = Text("modes (m changes):\n", style="bold")
    for name, mode in MODES.items():
        mark = name == chosen
        line = (f"{'▶' if mark else ' '} {name:<5} ~{mode.seconds(i.data_bytes, i.jobs):.0f}s, "
                f"{human_size(mode.disk_needed(i.data_bytes))} more disk: {mode.summary}")
        out.append(line + "\n", style="bold reverse" if mark else "")
    out.append(f"rollback plan ({chosen}):\n", style="bold")
    for step in MODES[chosen].rollback:
        out.append(f"  - {step}\n")
    return out


def inspection(i: Inspection, form: Form) -> Text:
    chosen = form.mode
    out = headline(i)
    out.append("\n\n")
    checks(i.checks, out)
    out.append("  (pg_upgrade --check runs first thing once the new cluster is made)\n", style="dim")
    out.append_text(modes(i, chosen))
    out.append(f"backup: {form.backup_note()}\n")
    if i.mode.name != chosen:
        out.append(f"! the checks ran for {i.mode.name} mode: c checks {chosen} mode\n", style="bold")
    return out


def start(i: Inspection, form: Form) -> Text:
    """The typed confirmation's text: what stops, what runs, and the way back."""
    mode = MODES[form.mode]
    return Text.assemble(
        (f"PostgreSQL {i.old_major} → {i.new_major} in {mode.name} mode\n", "bold"),
        f"old: {form.old_datadir}\nnew: {form.new_datadir}\n\n",
        "pgferry makes the new cluster, runs pg_upgrade --check, then STOPS the old server (the product is "
        "down until the new server accepts connections), runs pg_upgrade, starts the new server, updates "
        "extensions, analyzes and verifies.\n\n", ("rollback plan:\n", "bold"),
        *[f"  - {line}\n" for line in mode.rollback], f"backup: {form.backup_note()}")


def interrupted(state: State) -> Text:
    out = Text.assemble(("✗ interrupted: ", "bold"),
                        f"a server upgrade to {state.new_datadir} ({state.mode} mode) was {state.position()}\n",
                        f"  done: {', '.join(state.done) or 'nothing'}\n")
    out.append("\n".join(f"  {line}" for line in state.safe_actions()))
    return out


def steps(progress: Progress) -> Text:
    out = Text()
    for n, (step, status) in enumerate(progress.steps.items()):
        if n:
            out.append(" ")
        out.append(f"{STEP_GLYPH[status]} {step}", style="bold reverse" if status == RUNNING else "")
    return out


def managed(found: ManagedCheck) -> Text:
    out = Text.assemble((f"managed service → PostgreSQL {found.to_major}", "bold"), f" · {counts(found.checks)}\n\n")
    checks(found.checks, out)
    out.append(f"\nthe provider's steps to PostgreSQL {found.to_major}:\n", style="bold")
    for n, step in enumerate(found.steps, 1):
        out.append(f"  [ ] {n}. {step}\n")
    out.append("after the provider's upgrade, v verifies the product on the new server", style="dim")
    return out


def verified(found) -> Text:
    ok = not any(c.status == "fail" for c in found)
    out = Text(f"{'✓' if ok else '✗'} verify on the new server: {counts(found)}\n", style="bold")
    return checks(found, out)
