"""The recovery walkthrough (docs/design.md §9), opened from the dirty banner:
1 what happened → 2 diagnosis and choices, each with its exact SQL → 3 confirm by typing →
4 act (events in a log) → 5 verify; `e` exports the transcript as Markdown at any point."""
from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import OptionList, RichLog, Static
from textual.widgets.option_list import Option

from pgferry.engine.repair.actions import ActionResult
from pgferry.engine.repair.diagnosis import Diagnosis
from pgferry.engine.repair.kinds import ActionKind
from pgferry.engine.repair.perform import run_action
from pgferry.engine.safetext import printable
from pgferry.tui import recover_view
from pgferry.tui.lines import describe

from . import recovery_render as draw
from .base import PgferryScreen, bottom_bar
from .confirm import TypedConfirm
from .data import Source, error_text
from .messages import ActionDone, ActionEvent, Diagnosed, RecoveryFailed
from .recovery_model import (
    KEYS, LABELS, SHORT, Choice, Walkthrough, load_walkthrough, operator, transcript_name, transcript_text,
)
from .savefile import SaveText


def chooser(kind: ActionKind) -> str:
    """The binding action offering a choice; Textual calls `action_choose` with the kind's text."""
    return f"choose({str(kind)!r})"


CHOOSERS = {chooser(kind): kind for kind in KEYS}  # binding action -> its kind, never parsed back


class RecoveryScreen(PgferryScreen):
    CSS_PATH = "recovery.tcss"
    BINDINGS = [
        # Enter is said on screen at each step; the footer keeps its room for the choices at 80 columns.
        Binding("enter", "next", "Next", tooltip="Go on to the next step.", id="recovery-next", show=False),
        *[Binding(key, chooser(kind), SHORT[kind], tooltip=f"{LABELS[kind]}: shows its SQL, then asks you to "
                  "type the id to confirm.", id=f"recovery-{kind}") for kind, key in KEYS.items()],
        Binding("e", "export", "Export", tooltip="Save the transcript as Markdown (0600).", id="recovery-export"),
        Binding("l", "reload", "Reload", tooltip="Read the files and the database again.", id="recovery-reload"),
        Binding("escape", "back", "Back", tooltip="Back one step; from the first, to the overview.",
                id="recovery-back"),
    ]

    def __init__(self, source: Source, *, walkthrough: Walkthrough | None = None) -> None:
        super().__init__()
        self.source = source
        self.given = walkthrough is not None  # given data is shown as is and never reloaded (snapshots)
        self.walkthrough = walkthrough
        self.before: Diagnosis | None = walkthrough.diagnosis if walkthrough else None
        self.started = datetime.now(timezone.utc)
        self.actions: list[tuple[str, ActionResult]] = []
        self.step = 1
        self.selected = 0  # index into walkthrough.items
        self.busy: str | None = None

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("pgferry · recovery", id="title")
        yield Static(id="steps")
        yield Static("diagnosing…", id="state")
        yield Static(id="error")
        yield OptionList(id="items")
        with VerticalScroll(id="what"):
            yield Static(id="what-text")
        yield Static(id="reminder")
        yield OptionList(id="choices")
        with VerticalScroll(id="sql"):
            yield Static(id="sql-text")
        yield RichLog(id="log", wrap=True, markup=False, max_lines=2000)
        yield bottom_bar()

    def on_mount(self) -> None:
        if self.given:
            self.show_walkthrough()
        else:
            self.show_step(1)
            self.reload("diagnosing")

    def show_step(self, step: int) -> None:
        self.step = step
        shown = {1: ("#state", "#items", "#what"), 2: ("#reminder", "#choices", "#sql"), 4: ("#state", "#log"),
                 5: ("#state", "#log")}[step]
        for sel in ("#state", "#items", "#what", "#reminder", "#choices", "#sql", "#log"):
            self.query_one(sel).display = sel in shown
        items = self.walkthrough.items if self.walkthrough else ()
        self.query_one("#items").display = step == 1 and len(items) > 1
        self.show_steps_mark(step)
        focus = {1: "#items" if len(items) > 1 else "#what", 2: "#choices", 4: "#log", 5: "#log"}[step]
        self.query_one(focus).focus()
        self.update_keys()

    # -- what the keys may do ----------------------------------------------------------------

    def current(self):
        items = self.walkthrough.items if self.walkthrough else ()
        return items[self.selected] if 0 <= self.selected < len(items) else None

    def irrelevant(self, kind: ActionKind | None) -> bool:
        """A choice this kind of item never has (reindex for a migration, retry for an index): hidden, not dimmed."""
        if kind is None or self.walkthrough is None:
            return False
        item = self.current()  # None when clean: no choice is left to offer
        return item is None or item.choice(kind) is None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Textual passes choose('retry') as ("choose", ("retry",)); the reasons line uses the binding's string.
        kind = ActionKind(*parameters) if action == "choose" and parameters else None
        if self.irrelevant(kind):
            return False
        return None if self.disabled_reason(chooser(kind) if kind else action) else True

    def choice_reason(self, kind: ActionKind) -> str | None:
        item = self.current()
        if item is None:
            return "nothing to recover"
        choice = item.choice(kind)
        return None if choice.action else f"not applicable: {choice.reason}"

    def disabled_reason(self, action: str) -> str | None:
        kind = CHOOSERS.get(action)
        if action == "back" or self.irrelevant(kind):
            return None
        if self.busy:
            return f"busy: {self.busy}…"
        if self.walkthrough is None:
            return "diagnosing…"
        if action == "export" or action == "reload":
            return None
        if kind is not None:
            if self.source.read_only:
                return "read-only view (pgferry watch)"
            return self.choice_reason(kind)
        if action == "next":
            if self.walkthrough.clean:
                return "nothing to recover"
            if self.step == 2:
                return None if self.highlighted_choice() and self.highlighted_choice().action else \
                    "highlight a choice that applies"
        return None

    # -- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.step == 2 or (self.step == 5 and not self.walkthrough.clean):
            self.show_step(1)
        elif self.step == 4:
            self.app.notify("the action is running; it finishes on its own", markup=False)
        else:
            self.app.pop_screen()  # the overview reads the status again when it comes back

    def action_next(self) -> None:
        if self.step == 1:
            self.open_choices()
        elif self.step == 2:
            choice = self.highlighted_choice()
            if choice is not None:
                self.confirm(choice)
        elif self.step == 5:
            self.show_walkthrough()

    def action_choose(self, name: str) -> None:
        kind = ActionKind(name)
        if self.step != 2:
            self.open_choices()
        options = self.query_one("#choices", OptionList)
        for n, c in enumerate(self.current().choices):
            if c.kind == kind:
                options.highlighted = n
        self.confirm(self.current().choice(kind))

    def action_reload(self) -> None:
        if not self.given:
            self.reload("reading the files and the database again")

    def action_export(self) -> None:
        text = transcript_text(self.source, self.started, self.walkthrough, self.before, self.actions)

        def saved(path) -> None:
            if path is not None:
                self.app.notify(f"wrote {path} (owner-only, 0600)", title="transcript saved", markup=False)

        self.app.push_screen(SaveText("Export the recovery transcript (Markdown)", transcript_name(), text), saved)

    def confirm(self, choice: Choice) -> None:
        """Step 3: the exact SQL again, and the id (or index name) typed to go on."""
        a = choice.action
        body = Group(Text(f"{a.title} on {a.database} runs exactly:", style="bold"),
                          draw.sql_text(a.sql, self.app.current_theme.dark))
        self.show_steps_mark(3)

        def answered(ok: bool) -> None:
            if ok:
                self.act(choice, f"typed {a.confirm!r}, by {operator()}")
            else:
                self.show_step(2)

        self.app.push_screen(TypedConfirm(f"Step 3 of 5: confirm {a.kind}", body, a.confirm, f"run {a.kind}"),
                             answered)

    def show_steps_mark(self, step: int) -> None:
        self.step = step
        self.query_one("#steps", Static).update(draw.steps(step))

    # -- workers --------------------------------------------------------------------------------

    def reload(self, what: str) -> None:
        self.busy = what
        self.query_one("#error", Static).remove_class("show")
        self.update_keys()
        self.diagnose()

    @work(thread=True, exclusive=True, exit_on_error=False, group="recovery", description="diagnosing")
    def diagnose(self) -> None:
        try:
            self.post_message(Diagnosed(load_walkthrough(self.source)))
        except Exception as exc:  # noqa: BLE001 - shown on this screen, scrubbed
            self.post_message(RecoveryFailed(error_text(exc, self.source.secrets())))

    def act(self, choice: Choice, confirmed: str) -> None:
        self.busy = f"running {choice.kind}"
        log = self.query_one("#log", RichLog)
        log.write(Text(f"▶ {choice.action.title} on {choice.action.database} ({confirmed})", style="bold"))
        self.show_step(4)
        self.run_choice(choice, confirmed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="recovery", description="recovering")
    def run_choice(self, choice: Choice, confirmed: str) -> None:
        w = self.walkthrough

        def on_event(e) -> None:
            line = describe(e)
            if line:
                self.post_message(ActionEvent(line))

        try:
            # run_action reports a failed action as a result (ok=False) and always verifies.
            result = run_action(choice.action, w.definitions, w.dsns, self.source.bookkeeping_schema, on_event=on_event)
            self.post_message(ActionDone(confirmed, result))
        except Exception as exc:  # noqa: BLE001
            self.post_message(RecoveryFailed(error_text(exc, self.source.secrets())))

    # -- results ------------------------------------------------------------------------------

    def on_diagnosed(self, message: Diagnosed) -> None:
        self.walkthrough = message.walkthrough
        if self.before is None:
            self.before = message.walkthrough.diagnosis
        self.busy = None
        self.selected = min(self.selected, max(0, len(self.walkthrough.items) - 1))
        if self.step in (4, 5):
            self.show_after()
        else:
            self.show_walkthrough()

    def on_action_event(self, message: ActionEvent) -> None:
        self.query_one("#log", RichLog).write(Text(message.text))

    def on_action_done(self, message: ActionDone) -> None:
        self.actions.append((message.confirmed, message.result))
        log = self.query_one("#log", RichLog)
        r = message.result
        ok = r.ok and r.verified
        log.write(Text("step 5 of 5: verify", style="bold"))
        for line in recover_view.result_lines(r):
            log.write(Text(printable(line), style="bold" if line.startswith(("✓", "✗")) else ""))  # quotes the server
        self.app.notify(f"{'✓ verified' if ok else '✗ not verified'}: {r.action.title}", markup=False,
                        severity="information" if ok else "error")
        self.show_step(5)
        self.busy = "diagnosing again"
        self.update_keys()
        self.diagnose()  # the choices of what is left depend on what just changed

    def on_recovery_failed(self, message: RecoveryFailed) -> None:
        self.busy = None
        panel = self.query_one("#error", Static)
        panel.update(Text("✗ " + message.text + "\nPress l to try again."))
        panel.add_class("show")
        if self.step == 4:
            self.show_step(5)
        self.update_keys()

    def show_error(self, text: str) -> None:
        self.post_message(RecoveryFailed(text))

    # -- drawing ------------------------------------------------------------------------------

    def show_state(self) -> None:
        state = self.query_one("#state", Static)
        state.update(draw.state(self.walkthrough, acted=bool(self.actions)))
        state.set_class(self.walkthrough.clean, "clean")

    def show_walkthrough(self) -> None:
        w = self.walkthrough
        self.show_state()
        items = self.query_one("#items", OptionList)
        items.clear_options()
        items.add_options([Option(Text(i.title), id=str(n)) for n, i in enumerate(w.items)])
        if w.items:
            items.highlighted = self.selected
        self.show_item()
        self.show_step(1)
        if w.clean:
            self.query_one("#what").display = False

    def show_after(self) -> None:
        self.show_state()
        log = self.query_one("#log", RichLog)
        left = self.walkthrough.items
        log.write(Text("✓ nothing left to recover: Esc goes back to the overview" if not left else
                       f"! {len(left)} thing(s) left to recover: Enter or Esc shows them", style="bold"))
        self.update_keys()

    def show_item(self) -> None:
        item = self.current()
        dark = self.app.current_theme.dark
        self.query_one("#what-text", Static).update(draw.what_happened(item, dark) if item else "")
        if item is None:
            return
        self.query_one("#reminder", Static).update(draw.diagnosis(item))
        choices = self.query_one("#choices", OptionList)
        choices.clear_options()
        choices.add_options([Option(draw.choice_prompt(c), id=c.kind, disabled=c.action is None)
                             for c in item.choices])
        first = next((n for n, c in enumerate(item.choices) if c.action), None)
        choices.highlighted = first
        self.show_sql()
        self.update_keys()

    def highlighted_choice(self) -> Choice | None:
        item = self.current()
        n = self.query_one("#choices", OptionList).highlighted
        return item.choices[n] if item and n is not None and n < len(item.choices) else None

    def show_sql(self) -> None:
        choice = self.highlighted_choice()
        text = draw.choice_sql(choice, self.app.current_theme.dark) if choice else \
            Text("no choice applies: see the reasons above")
        self.query_one("#sql-text", Static).update(text)

    def open_choices(self) -> None:
        if self.current() is not None:
            self.show_step(2)

    @on(OptionList.OptionHighlighted, "#items")
    def item_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.selected = event.option_index
        self.show_item()

    @on(OptionList.OptionSelected, "#items")
    def item_selected(self, event: OptionList.OptionSelected) -> None:
        self.selected = event.option_index
        self.open_choices()

    @on(OptionList.OptionHighlighted, "#choices")
    def choice_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_sql()
        self.update_keys()

    @on(OptionList.OptionSelected, "#choices")
    def choice_selected(self, event: OptionList.OptionSelected) -> None:
        choice = self.highlighted_choice()
        if choice is not None and choice.action is not None:
            self.confirm(choice)
