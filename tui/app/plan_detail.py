"""What the plan screen shows about the highlighted step or group: metadata, graph, SQL."""
from __future__ import annotations

from typing import Mapping

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.style import Style
from rich.text import Span, Text

from pgferry.engine.definitions.catalog import Definitions
from pgferry.engine.plan.outline import Index, Item, ReleaseGroup, SchemaGroup, Segment
from pgferry.engine.plan.planner import Plan
from pgferry.engine.safetext import printable

_FLAGS = (("privileged", "⚿ privileged"), ("create_index_concurrently", "⧗ concurrent index (outside a transaction)"),
          ("non_idempotent", "! non-idempotent (not safe to re-run after a partial failure)"))


def meta_text(it: Item) -> Text:
    s = it.step
    t = Text()
    if s.kind == "schema":
        m = s.step.migration
        verb = "↑ apply" if s.step.up else "↓ revert"
        t.append(f"#{it.n} {verb} · {m.schema} {m.id} ", style="bold")
        t.append(m.name, style="bold")
        t.append(f"\nrelease {s.release or 'unreleased'} · towards {s.stop}")
        t.append(f"\nfile: {s.step.script.path}")
        flags = [w for attr, w in _FLAGS if getattr(m, attr)]
        t.append("\nflags: " + (", ".join(flags) if flags else "none"))
        if s.step.backfill:
            ids = ", ".join(map(str, s.step.backfill))
            t.append(f"\nsquash: also records {ids} as {'applied' if s.step.up else 'reverted'} (not run)")
        return t
    o = s.oob
    t.append(f"#{it.n} {'⟲ undo' if s.reverse else '⟳ run'} out-of-band {o.id} {o.slug}", style="bold")
    t.append(f"\n{o.description}")
    t.append(f"\nschema {o.schema} · lifetime {o.lifetime()} · at stop {s.stop}")
    t.append(f"\nwhy here: {s.reason}")
    t.append(f"\nfiles: {o.path}/{'down' if s.reverse else 'up'}.sql, progress.sql")
    t.append("\nrepeats its batch in short transactions until progress.sql reports "
             f"{'0' if s.reverse else '1'}; the run waits for it")
    return t


def graph_text(index: Index, it: Item, applied: Mapping[str, frozenset[int]] | None) -> Text:
    """Parents → this step → children as text, each marked applied, its place in the plan, or not applied."""
    if it.step.kind != "schema":
        return Text(f"runs once every schema has reached {it.step.stop}; later steps wait for it")
    hood = index.neighbourhood(it, applied)
    m = it.step.step.migration
    t = Text()

    def row(mark: str, mid: int, name: str, style: str = "") -> None:
        t.append(f"  {mark:<14}{mid} {name}\n", style=style)

    t.append("parents\n" if hood.parents else "parents: none (a root)\n", style="italic")
    for n in hood.parents:
        row(n.mark, n.id, n.name)
    t.append("      │\n" if hood.parents else "")
    row(f"▶ {'↑' if it.step.step.up else '↓'} #{it.n}", m.id, m.name, "bold reverse")
    t.append("      │\n" if hood.children else "")
    t.append("children\n" if hood.children else "children: none (a leaf)\n", style="italic")
    for n in hood.children:
        row(n.mark, n.id, n.name)
    if applied is None:
        t.append("(reading which migrations are applied…)", style="dim")
    return t


def group_text(plan: Plan, defs: Definitions, data: object) -> Text:
    t = Text()
    if isinstance(data, Segment):
        t.append(data.heading, style="bold")
        for it in data.out_of_band:
            o = it.step.oob
            t.append(f"\n{'⟲' if it.step.reverse else '⟳'} out-of-band {o.id} {o.slug}: {o.description}"
                     f" (lifetime {o.lifetime()})")
        t.append(f"\n{data.count} steps; every schema reaches {data.towards} first"
                 + (", then the out-of-band migrations finish" if data.out_of_band else ""))
    elif isinstance(data, ReleaseGroup):
        r = defs.releases.find(data.release)
        t.append(f"release {data.release}", style="bold")
        t.append(f" · {data.count} migrations introduced in it\n{r.notes if r else ''}")
    elif isinstance(data, SchemaGroup):
        t.append(f"schema {data.schema}", style="bold")
        t.append(f" · {len(data.items)} migrations, run in the order of their # numbers")
    return t


def sql_theme(app) -> str | None:
    """A Pygments style that fits the app theme; None means no colour at all (NO_COLOR, mono)."""
    name = app.theme or ""
    if app.no_color or name.endswith("mono"):
        return None
    if "high-contrast" in name:
        return "github-dark"
    return "monokai" if app.current_theme.dark else "friendly"


def _style(style) -> Style:
    return style if isinstance(style, Style) else Style.parse(style)


def sql_text(it: Item, app) -> RenderableType:
    s = it.step
    if s.kind == "schema":
        code = s.step.script.text
    else:
        script = s.oob.down if s.reverse else s.oob.up
        code = (script.text if script else "-- (no down.sql)").rstrip() + "\n\n-- progress.sql\n" + s.oob.progress.text
    code = printable(code.rstrip()) or "-- (empty)"  # shown, never run: escape sequences in it stay inert
    theme = sql_theme(app)
    if theme is None:
        # no colour at all: keep the "bw" style's bold keywords and italic comments, drop every colour
        # (its own black-on-white would vanish on a dark screen)
        text = Syntax(code, "sql", theme="bw").highlight(code)
        text.spans[:] = [Span(sp.start, sp.end, _style(sp.style).without_color) for sp in text.spans]
        text.style = ""
        return text
    # the screen's own background, so the SQL does not sit in a differently coloured box
    return Syntax(code, "sql", theme=theme, background_color=app.current_theme.background or "default",
                  word_wrap=True)
