"""Plan review: every step grouped by stop, release and schema, with its SQL, metadata and graph.

Stays responsive on a 10,000-step plan: steps live in a Tree (rendered line by line, no widget per
step), and a schema group's steps become tree nodes only when it is opened (large plans start
with just the first group open).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import psycopg
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static, Tree
from textual.widgets.tree import TreeNode

from pgferry.engine.upgrade.choices import PlanCounts
from pgferry.engine.plan.outline import Index, Item, ReleaseGroup, SchemaGroup, Segment, items, matches, segments
from pgferry.engine.plan.planner import Plan
from pgferry.engine.errors import PgferryError
from pgferry.engine.plan.impactview import OFFLINE
from pgferry.engine.safetext import printable
from pgferry.engine.upgrade.planning import read_applied
from pgferry.tui.plan_view import BADGES, LEGEND

from .base import PgferryScreen, bottom_bar
from .data import Source, error_text
from .export import ExportScreen
from .plan_detail import graph_text, group_text, meta_text, sql_text
from .plan_impact import impact_text, plan_cost, segment_cost, step_mark
from .safe import escaped

WIDE = 120  # from this width the details sit beside the tree and every view shows at once
EXPAND_ALL = 400  # up to this many steps every group starts open
VIEWS = ("sql", "details", "impact")
VIEW_NAMES = {"sql": "SQL", "details": "details", "impact": "impact"}
SHORT_LEGEND = "⚿ privileged ⧗ CIC ! non-idempotent ⟳ out-of-band ⟲ undo ↑ apply ↓ revert"


class AppliedRead(Message):
    def __init__(self, applied: Mapping[str, frozenset[int]]) -> None:
        super().__init__()
        self.applied = applied


class ImpactRead(Message):
    """The plan with its impact read from the live databases, or why there is none."""

    def __init__(self, plan: Plan | None, problem: str | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.problem = problem


def step_label(it: Item, mark: str = "") -> Text:
    """`mark`: what the step blocks when that is noticeable ("✗ blocks reads+writes ~3.1 s"), before its name."""
    return escaped(_step_label(it, mark))  # names and descriptions are the definitions' text


def _step_label(it: Item, mark: str) -> Text:
    s = it.step
    if s.kind == "schema":
        m = s.step.migration
        t = Text("↑ " if s.step.up else "↓ ")
        t.append("".join(g if getattr(m, attr) else " " for attr, g in BADGES), style="bold")
        t.append(f" #{it.n:<4} {m.id} ")
        t.append(mark, style="bold reverse")
        t.append(m.name)
        return t
    t = Text(f"{'⟲' if s.reverse else '⟳'}     #{it.n:<4} out-of-band {s.oob.id} ", style="bold")
    t.append(mark, style="reverse")
    t.append(s.oob.description, style="not bold")
    return t


def segment_label(seg: Segment, cost: str = "") -> Text:
    """`cost`: the segment's estimate (" · ~12 s") when the plan has its impact."""
    if seg.stop is not None:
        oob = ", ".join(map(str, seg.stop.out_of_band))
        return Text(f"⏸ stop at {seg.towards} · finish ⟳ {oob} ({seg.count} steps){cost}", style="bold")
    return Text(f"→ {seg.heading} ({seg.count} steps){cost}", style="bold")


class PlanScreen(PgferryScreen):
    CSS_PATH = "plan.tcss"
    BINDINGS = [
        Binding("c", "proceed", "Continue", tooltip="Go on: privileged steps if needed, then confirm and run.",
                id="plan-continue"),
        Binding("slash", "filter", "Filter", key_display="/",
                tooltip="Narrow the steps by id, name, schema or badge (privileged, cic, oob).", id="plan-filter"),
        Binding("e", "export", "Export", tooltip="Write the plan as SQL, JSON or Markdown.", id="plan-export"),
        Binding("v", "view", "View", tooltip="Switch the lower pane between SQL, details and impact.",
                id="plan-view"),
        Binding("escape", "back", "Back", tooltip="Clear the filter, else back to the targets.", id="plan-back"),
        Binding("j", "tree('cursor_down')", "Down", show=False, tooltip="Next line.", id="plan-down"),
        Binding("k", "tree('cursor_up')", "Up", show=False, tooltip="Previous line.", id="plan-up"),
    ]

    def __init__(self, source: Source, plan: Plan, *, applied: Mapping[str, frozenset[int]] | None = None) -> None:
        super().__init__()
        self.source = source
        self.plan = plan
        self.applied = applied  # None until read: the graph marks parents "not in plan" meanwhile
        self.items = items(plan)
        self.index = Index(source.definitions(), self.items)
        self.query_text = ""
        # with the plan's impact read from the database, its cost is what the lower pane shows first
        self.view = "impact" if plan.impact is not None else "sql"
        self.view_chosen = False  # once v is pressed, an impact arriving later does not switch the pane
        self.no_impact = OFFLINE  # what the impact panel says while the plan has none
        self.pending: dict[int, SchemaGroup] = {}  # tree node id -> steps added when it first opens
        self._shown: int | None = None  # steps the filter lets through; None when no filter

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("pgferry · plan review", id="title")
        yield Static(id="summary")
        yield Static(Text(LEGEND), id="legend")
        yield Input(placeholder="filter: id, name, schema, privileged, cic, oob… (Esc clears)", id="filter",
                    compact=True)
        with Container(id="body"):
            tree: Tree = Tree("plan", id="steps")
            tree.show_root = False
            tree.guide_depth = 2
            yield tree
            with VerticalScroll(id="detail"):
                yield Static(id="caption")
                yield Static(id="impact")
                yield Static(id="meta")
                yield Static(id="graph")
                yield Static(id="sql")
        yield bottom_bar()

    def _layout(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")
        self.set_class(self.plan.impact is not None, "-costed")
        self._summary(self._shown)
        # the full legend wraps below 86 columns: a shorter one keeps it on one line
        self.query_one("#legend", Static).update(Text(LEGEND if self.size.width >= 86 else SHORT_LEGEND))

    def on_mount(self) -> None:
        self._layout()
        self._set_view(self.view)
        self._build(self.items)
        self.query_one("#steps", Tree).focus()
        if self.applied is None and not self.plan.empty:
            # read from the live databases (a screen given its applied sets, as tests do, reads nothing)
            self.load_applied()
            if self.plan.impact is None:
                self.no_impact = "reading the tables' sizes and the server's calibration…"
                self.load_impact()
        self.update_keys()

    def on_resize(self) -> None:
        self._layout()
        self.update_keys()

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan", description="reading applied migrations")
    def load_applied(self) -> None:
        self.post_message(AppliedRead(read_applied(self.source.definitions(), self.source.connections())))

    @work(thread=True, exclusive=True, exit_on_error=False, group="impact", description="estimating the plan's impact")
    def load_impact(self) -> None:
        from pgferry.engine.upgrade.impact import with_impact

        try:
            plan = with_impact(self.plan, self.source.definitions(), self.source.connections())
        except (PgferryError, psycopg.Error) as exc:  # the plan stays usable without its cost
            self.post_message(ImpactRead(None, error_text(exc, self.source.secrets())))
            return
        self.post_message(ImpactRead(plan))

    def on_impact_read(self, message: ImpactRead) -> None:
        if message.plan is None:
            self.no_impact = f"no estimate: {message.problem}"
        else:
            self.plan = message.plan
            self._layout()
            self._relabel(self.query_one("#steps", Tree).root)
            if not self.view_chosen:
                self._set_view("impact")
        self._show(self.query_one("#steps", Tree).cursor_node)
        self.update_keys()

    def _relabel(self, node: TreeNode) -> None:
        """Stop headers and step labels again, with the estimates (the tree and its cursor stay)."""
        for child in node.children:
            if isinstance(child.data, Segment):
                child.set_label(segment_label(child.data, segment_cost(self.plan, child.data)))
            elif isinstance(child.data, Item):
                child.set_label(step_label(child.data, step_mark(self.plan, child.data)))
            self._relabel(child)

    def on_applied_read(self, message: AppliedRead) -> None:
        self.applied = message.applied
        self._show(self.query_one("#steps", Tree).cursor_node)

    def _summary(self, shown: int | None = None) -> None:
        self._shown = shown
        p = self.plan
        if p.empty:
            text = f"already at {p.to_version}: nothing to do"
        else:
            n = PlanCounts.of(p)
            # listed when there is room; the tree shows each stop anyway
            wide = self.size.width >= WIDE
            stops = (f"stops {', '.join(n.stops)}" if wide else f"{len(n.stops)} stops") if n.stops else "no stops"
            text = (f"{p.direction} {p.from_label} → {p.to_version} · {n.migrations} migrations ({n.privileged}⚿ "
                    f"{n.concurrent_index}⧗ {n.non_idempotent}!) · {n.out_of_band}⟳ · {stops}")
        t = Text(text)
        if p.impact is not None and not p.empty:
            t.append("\n" + printable(plan_cost(p.impact, wide=self.size.width >= WIDE)))
        if shown is not None:
            t.append(f"\nfilter “{self.query_text}”: {shown} of {len(self.items)} steps", style="bold")
        for w in p.warnings:
            t.append(f"\n! {w}")
        if p.reindex:
            t.append(f"\n↻ first: rebuild {len(p.reindex)} index(es) on changed collations "
                     f"(~{sum(r.seconds for r in p.reindex):g}s): {printable(', '.join(r.index for r in p.reindex))}")
        self.query_one("#summary", Static).update(t)

    # -- the tree ---------------------------------------------------------------------------

    def _build(self, chosen: list[Item]) -> None:
        tree = self.query_one("#steps", Tree)
        tree.clear()
        self.pending.clear()
        if not chosen:
            why = f"no step matches “{self.query_text}”" if self.query_text else "nothing to do"
            tree.root.add_leaf(Text(why, style="italic"))
            self._show(None)
            return
        open_all = len(chosen) <= EXPAND_ALL
        first = True
        segs = segments(self.plan, chosen)
        for seg in segs:
            head = tree.root.add(segment_label(seg, segment_cost(self.plan, seg)), data=seg, expand=True)
            for rg in seg.releases:
                rnode = head.add(Text(f"release {rg.release} ({rg.count})"), data=rg, expand=open_all or first)
                for sg in rg.schemas:
                    snode = rnode.add(Text(f"{sg.schema} ({len(sg.items)})"), data=sg, expand=open_all or first)
                    if open_all or first:
                        self._fill(snode, sg)
                    else:
                        self.pending[snode.id] = sg
                    first = False
            for it in seg.out_of_band:
                head.add_leaf(step_label(it, step_mark(self.plan, it)), data=it)
        # The cursor starts on the first step (stop, release, schema, step; or stop, out-of-band step).
        # Through -1: the same line number in a rebuilt tree must still announce its (new) node.
        tree.cursor_line = -1
        tree.cursor_line = 3 if segs[0].releases else 1

    def _fill(self, node: TreeNode, group: SchemaGroup) -> None:
        for it in group.items:
            node.add_leaf(step_label(it, step_mark(self.plan, it)), data=it)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        group = self.pending.pop(event.node.id, None)
        if group is not None:
            self._fill(event.node, group)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        self._show(event.node)

    def _show(self, node: TreeNode | None) -> None:
        data = node.data if node is not None else None
        caption = self.query_one("#caption", Static)
        meta, graph, sql = (self.query_one(f"#{i}", Static) for i in ("meta", "graph", "sql"))
        self.query_one("#impact", Static).update(escaped(impact_text(self.plan, data, self.no_impact)))
        if isinstance(data, Item):
            meta.update(escaped(meta_text(data)))
            graph.update(escaped(graph_text(self.index, data, self.applied)))
            sql.update(sql_text(data, self.app))
            what = f"{data.schema} {data.id}"
        else:
            meta.update(escaped(group_text(self.plan, self.source.definitions(), data)))
            graph.update("")
            sql.update(Text("Select a step to see its SQL.", style="italic"))
            if isinstance(data, (Segment, ReleaseGroup, SchemaGroup)) and self.view == "sql":
                # a group has no SQL: its summary is more useful here
                sql.update(escaped(group_text(self.plan, self.source.definitions(), data)))
            what = None
        other = VIEW_NAMES[VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]]
        caption.update(Text(f"{VIEW_NAMES[self.view]} of {what} · v shows {other}" if what
                            else "about this group · a step shows its SQL and details"))
        self.query_one("#detail").scroll_home(animate=False)

    # -- keys -------------------------------------------------------------------------------

    def disabled_reason(self, action: str) -> str | None:
        if action == "proceed":
            if self.plan.empty:
                return f"already at {self.plan.to_version}: nothing to do"
            if self.source.read_only:
                return "read-only view (pgferry watch)"
        if action == "view" and self.is_mounted and self.has_class("-wide"):
            if self.plan.impact is not None:
                return "SQL, details and impact are all shown at this width"
            return "SQL and details are both shown at this width"
        return None

    def action_proceed(self) -> None:
        self.app.proceed(self.plan)

    def action_view(self) -> None:
        self.view_chosen = True
        self._set_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])
        self._show(self.query_one("#steps", Tree).cursor_node)

    def _set_view(self, view: str) -> None:
        self.view = view
        detail = self.query_one("#detail")
        for name in VIEWS[1:]:
            detail.set_class(view == name, f"-{name}")

    def action_tree(self, action: str) -> None:
        tree = self.query_one("#steps", Tree)
        getattr(tree, f"action_{action}")()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("show")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        self.query_text = event.value.strip()
        self._apply_filter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one("#steps", Tree).focus()

    def _apply_filter(self) -> None:
        if not self.query_text:
            self._summary()
            self._build(self.items)
            return
        chosen = [it for it in self.items if matches(it, self.query_text)]
        self._summary(len(chosen))
        self._build(chosen)

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("show") or self.query_text:
            box.value = ""  # Changed rebuilds the full tree
            box.remove_class("show")
            self.query_one("#steps", Tree).focus()
            return
        self.app.pop_screen()

    def action_export(self) -> None:
        self.app.push_screen(ExportScreen(self.plan), self._exported)

    def _exported(self, path: Path | None) -> None:
        if path is not None:
            self.app.notify(f"wrote {path} (owner-only, 0600)", title="plan exported", markup=False)
