"""Choose target: every release, what moving there would take, and why some cannot be chosen.

The database is read once; each release is then planned in the worker and its row filled in as
its plan arrives, so the table is usable at once even for a long release history.
"""
from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from pgferry.engine.upgrade.choices import Choice, DatabaseState, choose, default_release, read_state
from pgferry.engine.plan.planner import Planner

from .base import PgferryScreen, bottom_bar
from .data import Source
from .safe import escaped, neutralised

COLUMNS = (("", "mark"), ("release", "release"), ("move", "move"), ("migr", "migrations"),
           ("⚿", "privileged"), ("⧗", "cic"), ("⟳", "oob"), ("stops", "stops"), ("status", "status"))
WIDE = 120  # from this width the notes sit beside the table instead of below it


class StateRead(Message):
    def __init__(self, state: DatabaseState) -> None:
        super().__init__()
        self.state = neutralised(state)


class ChoiceReady(Message):
    def __init__(self, choice: Choice) -> None:
        super().__init__()
        # What the table and the notes show is neutralised; the plan is kept as is: it is what runs.
        self.choice = replace(choice, **{f: neutralised(getattr(choice, f)) for f in ("release", "counts", "short", "reason")})


def _direction(choice: Choice) -> str:
    return {"upgrade": "↑ upgrade", "downgrade": "↓ down", "install": "↑ install", "none": "· none"}.get(
        choice.direction, "")


class TargetScreen(PgferryScreen):
    CSS_PATH = "target.tcss"
    BINDINGS = [
        # priority: the table's own Enter would hide this key from the footer; when the key is
        # dimmed, Enter falls through to the table, whose RowSelected says why it cannot be chosen
        Binding("enter", "review", "Review plan", key_display="⏎", priority=True,
                tooltip="Review the plan to the highlighted release.", id="target-review"),
        Binding("escape", "back", "Back", tooltip="Back to the overview.", id="target-back"),
        Binding("j", "cursor(1)", "Down", show=False, tooltip="Next release.", id="target-down"),
        Binding("k", "cursor(-1)", "Up", show=False, tooltip="Previous release.", id="target-up"),
    ]

    def __init__(self, source: Source, state: DatabaseState | None = None) -> None:
        super().__init__()
        self.source = source
        self.given = state  # a given state is planned from and never re-read (snapshots)
        self.state: DatabaseState | None = None
        self.choices: dict[str, Choice] = {}

    def compose(self) -> ComposeResult:
        yield Static("pgferry · choose target", id="title")
        yield Static("reading the database…", id="summary")
        with Container(id="body"):
            table = DataTable(id="releases", cursor_type="row", zebra_stripes=True)
            for label, key in COLUMNS:
                table.add_column(label, key=key)
            yield table
            yield Static(id="notes")
        yield bottom_bar()

    def on_mount(self) -> None:
        defs = self.source.definitions()
        table = self.query_one("#releases", DataTable)
        for r in defs.releases.releases:
            table.add_row("", r.version, "", "", "", "", "", "", Text("planning…", style="dim"), key=r.version)
        start = default_release(defs)
        if start is not None:
            table.move_cursor(row=table.get_row_index(start.version))
        self.set_class(self.size.width >= WIDE, "-wide")
        self.load(self.given)

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    @work(thread=True, exclusive=True, exit_on_error=False, group="target", description="planning each release")
    def load(self, given: DatabaseState | None) -> None:
        defs = self.source.definitions()
        state = given or read_state(defs, self.source.connections())
        self.post_message(StateRead(state))
        planner = Planner(defs)  # built once: it precomputes which release introduces each migration
        worker = get_current_worker()
        releases = list(defs.releases.releases)
        start = default_release(defs)
        if start is not None:  # the row under the cursor first
            releases.sort(key=lambda r: r != start)
        for r in releases:
            if worker.is_cancelled:
                return
            self.post_message(ChoiceReady(choose(defs, state, r, planner)))

    def on_state_read(self, message: StateRead) -> None:
        self.state = message.state
        self._summary()

    def _summary(self) -> None:
        s = self.state
        total = len(self.source.definitions().releases.releases)
        done = "" if len(self.choices) == total else f" · planning {len(self.choices)}/{total}…"
        self.query_one("#summary", Static).update(Text(
            f"database at {s.version.label} · PostgreSQL {s.server} · {total} releases{done}"))

    def on_choice_ready(self, message: ChoiceReady) -> None:
        c = message.choice
        self.choices[c.release.version] = c
        table = self.query_one("#releases", DataTable)
        dim = "dim" if not c.selectable else ""
        n = c.counts
        cells = {
            "mark": "▶" if c.current else "",
            "release": c.release.version,
            "move": _direction(c),
            "migrations": str(n.migrations) if n else "-",
            "privileged": str(n.privileged) if n else "-",
            "cic": str(n.concurrent_index) if n else "-",
            "oob": str(n.out_of_band) if n else "-",
            "stops": str(len(n.stops)) if n else "-",
            "status": c.short,
        }
        for key, value in cells.items():
            table.update_cell(c.release.version, key, Text(value, style=dim), update_width=True)
        self._summary()
        if self._highlighted() is c:
            self._show_notes(c)
        self.update_keys()

    def _highlighted(self) -> Choice | None:
        table = self.query_one("#releases", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.choices.get(key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        choice = self.choices.get(event.row_key.value)
        if choice is not None:
            self._show_notes(choice)
        else:
            r = self.source.definitions().release(event.row_key.value)
            self.query_one("#notes", Static).update(escaped(Text(f"{r.version}\n{r.notes}\n\nplanning…")))
        self.update_keys()

    def _show_notes(self, c: Choice) -> None:
        r = c.release
        t = Text()
        t.append(r.version, style="bold")
        if c.plan is not None:
            t.append(f" · {c.plan.direction} {c.plan.from_label} → {r.version}")
        if c.current:
            t.append(" · the database is here")
        t.append("\n" + (r.notes or "(no notes)") + "\n")
        if c.counts is not None:
            n = c.counts
            t.append(f"{n.migrations} migrations: {n.privileged} ⚿ privileged, {n.concurrent_index} ⧗ "
                     f"concurrent index, {n.non_idempotent} ! non-idempotent\n")
            stops = f": {', '.join(n.stops)}" if n.stops else ""
            t.append(f"{n.out_of_band} ⟳ out-of-band, {len(n.stops)} stop{'s' if len(n.stops) != 1 else ''}{stops}\n")
        if r.postgres:
            t.append(f"PostgreSQL {r.postgres}\n")
        if c.reason:
            t.append(f"✗ cannot choose: {c.reason}\n", style="bold")
        elif c.plan is not None:
            t.append("⏎ reviews the plan" + (" (nothing to do)" if c.plan.empty else ""), style="italic")
        self.query_one("#notes", Static).update(t)

    def disabled_reason(self, action: str) -> str | None:
        if action != "review":
            return None
        c = self._highlighted() if self.is_mounted else None
        if c is None:
            return "still planning this release"
        # one line: the notes pane gives the whole reason
        return f"{c.release.version} cannot be chosen ({c.short.lstrip('✗ ')}; see the notes)" if c.reason else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_review()

    def action_review(self) -> None:
        c = self._highlighted()
        if c is None or not c.selectable:
            # The key is dimmed, but Enter on a table row still arrives: say why rather than do nothing.
            why = c.reason if c is not None else "it is still being planned"
            self.app.notify(f"{c.release.version if c else 'this release'} cannot be chosen: {why}",
                            title="not selectable", severity="warning", markup=False)
            return
        self.app.review_plan(c.plan)

    def action_cursor(self, delta: int) -> None:
        table = self.query_one("#releases", DataTable)
        table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + delta)))

    def action_back(self) -> None:
        self.app.pop_screen()
