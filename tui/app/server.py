"""The server upgrade screen (issue 17; `pgferry server-upgrade` in the terminal UI), opened from
the overview with `s`: the directories and mode, proposed from the connected server and editable;
the checks run in a worker and listed as preflight lists them; the modes explained with the
chosen one marked; start after a typed confirmation, then the steps and pg_upgrade's output, then
the verification. An upgrade interrupted earlier is shown on opening with resume and roll back.
A managed service (no data directory here) gets the provider's checklist instead.

The upgrade runs in this process (a worker thread), as the command line runs it: its state file
records each step, so an interruption is answered by the next opening (resume or roll back).
What the screen knows is server_model; what it draws, server_render.
"""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, RichLog, Static

from pgferry.engine.server.modes import MODES
from pgferry.engine.server.state import State

from . import server_render as draw
from .base import PgferryScreen, bottom_bar
from .confirm import TypedConfirm
from .data import Source
from .safe import escaped
from .server_model import (
    FIELDS, LABELS, Form, Progress, Proposal, propose, resume_reason, rollback_reason, unfinished,
    with_field,
)

NEXT_MODE = dict(zip(MODES, [*list(MODES)[1:], next(iter(MODES))]))


class Done(Message):
    """A worker's answer: `kind` proposed | checked | managed | verified | upgraded | rolled-back."""

    def __init__(self, kind: str, value=None) -> None:
        super().__init__()
        self.kind, self.value = kind, value


class Output(Message):
    def __init__(self, event) -> None:
        super().__init__()
        self.event = event


class ServerUpgradeScreen(PgferryScreen):
    CSS_PATH = "server.tcss"
    CATEGORY = "server"
    BINDINGS = [
        Binding("c", "check", "Check", tooltip="Run the checks before anything changes (read-only).", id="server-check"),
        Binding("m", "mode", "Mode", tooltip="Next transfer mode: copy, clone, link.", id="server-mode"),
        Binding("s", "start", "Start", tooltip="Stop the old server and upgrade (asks you to type the new major).",
                id="server-start"),
        Binding("u", "resume", "Resume", tooltip="Continue the interrupted upgrade from its step.", id="server-resume"),
        Binding("b", "rollback", "Roll back", tooltip="Start the old cluster again after an interrupted upgrade.",
                id="server-rollback"),
        Binding("v", "verify", "Verify", tooltip="After the provider's upgrade: status, drift, collations, readiness.",
                id="server-verify"),
        Binding("escape", "back", "Back", key_display="esc", tooltip="Leave the field; else back to the overview.", id="server-back"),
    ]

    def __init__(self, source: Source, *, proposal: Proposal | None = None, inspection=None) -> None:
        """proposal, inspection: shown as given, nothing read from the server (snapshots)."""
        super().__init__()
        self.source = source
        self.given = proposal
        self.given_inspection = inspection
        self.proposal: Proposal | None = None
        self.form = Form()
        self.inspection = None  # engine Inspection, or ManagedCheck for a managed service
        self.interrupted: State | None = None
        self.progress: Progress | None = None
        self.busy: str | None = "reading the server"
        self.finished = False

    # -- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("pgferry · server upgrade", id="title")
        yield Static("reading the connected server…", id="note")
        yield Static(id="error")
        yield Static(id="interrupted")
        with Vertical(id="form"):
            for name in FIELDS:
                with Horizontal(classes="row", id=f"row-{name}"):
                    yield Static(LABELS[name], classes="label")
                    yield Input(id=name, compact=True, placeholder="a reason, in words" if name == "no_backup" else "")
            with Horizontal(classes="row", id="row-to_version"):
                yield Static(LABELS["to_version"], classes="label")
                yield Input(id="to_version", compact=True, type="integer")
            yield Static(id="mode-line")
        yield Static(id="steps")
        with VerticalScroll(id="report"):
            yield Static(id="report-text")
        yield RichLog(id="log", wrap=True, markup=False, max_lines=5000)
        yield bottom_bar()

    def on_mount(self) -> None:
        for sel in ("#steps", "#log", "#row-to_version"):
            self.query_one(sel).display = False
        self.query_one("#report").focus()  # the keys work from here; Tab goes to the fields
        if self.given is not None:
            self.on_done(Done("proposed", self.given))
            if self.given_inspection is not None:
                self.on_done(Done("checked", self.given_inspection))
        else:
            self.read_proposal()

    @property
    def upgrading(self) -> bool:
        """A run, resume or roll back is under way in this process (the app will not quit meanwhile)."""
        return self.progress is not None and not self.finished and self.busy is not None

    # -- what the keys may do ----------------------------------------------------------------------

    @property
    def managed(self) -> bool:
        return self.proposal is not None and self.proposal.managed

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # resume and roll back are offers for an interrupted upgrade; verify for a managed service
        if action in ("resume", "rollback") and self.interrupted is None:
            return False
        if action in ("check", "mode", "start") and (self.interrupted is not None or self.progress is not None):
            return False  # an interrupted upgrade is answered first, on its own clusters; a run is not started twice
        if action == "verify" and not self.managed:
            return False
        if action in ("mode", "start") and self.managed:
            return False
        return super().check_action(action, parameters)

    def disabled_reason(self, action: str) -> str | None:
        if action == "back":
            return "the upgrade is running: it must finish (Esc returns then)" if self.upgrading else None
        if self.busy:
            return f"busy: {self.busy}…"
        if self.source.read_only:
            return "read-only view (pgferry watch)"
        if action == "check" and not self.managed:
            return self.form.backup_reason()  # the engine asks for the backup decision before any check
        if action == "start":
            return self.start_reason()
        if action == "resume":
            return resume_reason(self.interrupted)
        if action == "rollback":
            return rollback_reason(self.interrupted)
        return None

    def start_reason(self) -> str | None:
        if self.inspection is None:
            return "run the checks first (c)"
        if self.inspection.mode.name != self.form.mode:
            return f"the checks ran for {self.inspection.mode.name} mode: check again (c)"
        if not self.inspection.ok:
            return "a check failed: fix it, then check again (c)"
        return self.form.backup_reason()

    # -- the form ----------------------------------------------------------------------------------

    def show_form(self) -> None:
        for name in FIELDS:
            self.query_one(f"#{name}", Input).value = getattr(self.form, name)
        self.query_one("#row-no_backup").display = MODES[self.form.mode].needs_backup
        self.show_mode()

    def show_mode(self) -> None:
        line = Text("mode        ")
        for name in MODES:
            chosen = name == self.form.mode
            line.append(f"{'▶' if chosen else ' '}{name}", style="bold reverse" if chosen else "")
            line.append("  ")
        line.append("(m: next mode)", style="dim")
        self.query_one("#mode-line", Static).update(line)

    @on(Input.Changed)
    def field_changed(self, event: Input.Changed) -> None:
        # show_form's own writes come back here equal to the form: only what the operator typed counts
        if event.input.id in FIELDS and getattr(self.form, event.input.id) != event.value:
            self.form = with_field(self.form, event.input.id, event.value)
            if event.input.id == "new_datadir":
                self.show_interrupted(unfinished(event.value))
            self.update_keys()

    @on(Input.Submitted)
    def field_submitted(self) -> None:
        self.query_one("#report").focus()  # Enter leaves the field: the keys are the screen's again

    # -- actions -----------------------------------------------------------------------------------

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one("#report").focus()
        else:
            self.app.pop_screen()

    def action_mode(self) -> None:
        self.form = with_field(self.form, "mode", NEXT_MODE[self.form.mode])
        self.show_form()
        self.show_report()
        self.update_keys()

    def action_check(self) -> None:
        self.begin("running the checks")
        self.run_checks(self.form, self.query_one("#to_version", Input).value)

    def action_verify(self) -> None:
        self.begin("verifying the product on the new server")
        self.run_verify()

    def action_start(self) -> None:
        body = escaped(draw.start(self.inspection, self.form))
        self.app.push_screen(TypedConfirm("Upgrade the server?", body, str(self.inspection.new_major), "Upgrade"),
                             lambda ok: ok and self.launch(resume=False))

    def action_resume(self) -> None:
        body = Text(f"Continue the {self.interrupted.mode}-mode upgrade to {self.interrupted.new_datadir} "
                    f"with {self.interrupted.next_step()}.")
        self.app.push_screen(TypedConfirm("Resume the server upgrade?", body, "resume", "Resume"),
                             lambda ok: ok and self.launch(resume=True))

    def action_rollback(self) -> None:
        state = self.interrupted
        body = Text("\n".join(line for line in state.safe_actions() if line.startswith("roll back")))
        self.app.push_screen(TypedConfirm("Roll back to the old cluster?", body, "rollback", "Roll back"),
                             lambda ok: ok and self.launch(rollback=True))

    def launch(self, *, resume: bool = False, rollback: bool = False) -> None:
        self.progress = Progress.of_state(self.interrupted) if self.interrupted else Progress()
        for sel, shown in (("#form", False), ("#steps", True), ("#log", True), ("#report", False)):
            self.query_one(sel).display = shown
        self.begin("rolling back" if rollback else "upgrading the server")
        self.show_steps()
        self.query_one("#log").focus()
        self.run_upgrade(self.form, resume, rollback)

    def begin(self, what: str) -> None:
        self.busy = what
        self.query_one("#error").remove_class("show")
        self.update_keys()

    # -- workers (thread: the engine blocks) ---------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="server", description="reading the server")
    def read_proposal(self) -> None:
        self.post_message(Done("proposed", propose(self.source)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="server", description="running the checks")
    def run_checks(self, form: Form, to_version: str) -> None:
        if self.managed:
            from pgferry.engine.server.managed import inspect_managed

            if not to_version.strip():
                raise ValueError("type the major version the provider will move to (to version)")
            self.post_message(Done("managed", inspect_managed(self.source.definitions(), self.source.connections(),
                                                              int(to_version))))
        else:
            self.post_message(Done("checked", form.job(self.source).inspect()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="server", description="verifying")
    def run_verify(self) -> None:
        from pgferry.engine.server.managed import verify_managed

        self.post_message(Done("verified", verify_managed(self.source.definitions(), self.source.connections())))

    @work(thread=True, exclusive=True, exit_on_error=False, group="server", description="upgrading the server")
    def run_upgrade(self, form: Form, resume: bool, rollback: bool) -> None:
        from pgferry.engine.server.run import rollback as roll_back, upgrade
        from pgferry.engine.server.verify import product_checks

        if rollback:
            self.post_message(Done("rolled-back", roll_back(form.job(self.source).new.datadir, self.post_output)))
            return
        job = form.job(self.source)
        outcome = upgrade(job, self.post_output, resume=resume)
        self.post_message(Done("upgraded", (outcome, product_checks(job.defs, job.conns, outcome.state.release))))

    def post_output(self, event) -> None:
        self.post_message(Output(event))

    # -- results -----------------------------------------------------------------------------------

    def on_output(self, message: Output) -> None:
        line = self.progress.apply(message.event)
        if line is not None:
            self.query_one("#log", RichLog).write(escaped(Text(line, style="bold" if line[0] in "▶✓" else "")))
            self.show_steps()

    def on_done(self, message: Done) -> None:
        self.busy = None
        kind, value = message.kind, message.value
        if kind == "proposed":
            self.proposal, self.form = value, value.form
            self.query_one("#note", Static).update(escaped(Text(value.note)))
            self.managed_layout(value.managed)
            self.show_form()
            if not value.managed:
                self.show_report()
            self.show_interrupted(value.interrupted)
        elif kind in ("checked", "managed"):
            self.inspection = value
        elif kind == "verified":
            self.show_text(draw.verified(value))
        elif kind == "upgraded":
            self.finished_with(f"✓ PostgreSQL upgraded in {value[0].seconds:.1f}s (downtime {value[0].downtime:.1f}s); "
                               f"the product is at {value[0].state.release or 'no release'}", draw.verified(value[1]))
        elif kind == "rolled-back":
            self.finished_with("✓ rolled back: the old cluster serves again", Text(
                f"{value.new_datadir} and {value.new_datadir}.pgferry can be removed once you are satisfied."))
        if kind in ("checked", "managed"):
            self.show_report()
        self.update_keys()

    def finished_with(self, line: str, report: Text) -> None:
        self.finished = True
        self.interrupted = None
        self.query_one("#note", Static).update(Text(line))
        self.query_one("#log", RichLog).write(Text(line, style="bold"))
        self.query_one("#report").display = True
        self.show_text(report)
        self.show_interrupted(None)

    def show_error(self, text: str) -> None:
        self.busy = None
        panel = self.query_one("#error", Static)
        panel.update(Text("✗ " + text))
        panel.add_class("show")
        if self.proposal is None:  # the server did not answer (stopped by an interrupted upgrade, say)
            self.on_done(Done("proposed", Proposal(Form(), 0, False, "nothing proposed: type the directories (Tab); "
                                                   "an interrupted upgrade is found by its new datadir")))
        if self.progress is not None and not self.finished:
            self.progress.failed()
            self.show_steps()
            self.show_interrupted(unfinished(self.form.new_datadir))
        self.update_keys()

    # -- drawing -------------------------------------------------------------------------------------

    def managed_layout(self, managed: bool) -> None:
        for name in FIELDS:
            self.query_one(f"#row-{name}").display = not managed
        self.query_one("#row-to_version").display = managed
        self.query_one("#mode-line").display = not managed
        if managed:
            self.show_text(Text("A managed service: the provider runs the upgrade. Type the major version it will "
                                "move to (Tab), then c runs the checks over the connection and lists its steps."))

    def show_interrupted(self, state: State | None) -> None:
        self.interrupted = state
        panel = self.query_one("#interrupted", Static)
        panel.update(escaped(draw.interrupted(state)) if state else "")
        panel.set_class(state is not None, "show")
        if state is not None:
            self.query_one("#error").remove_class("show")  # a server stopped by the interruption said why already
        if self.progress is None:  # before a run: the panel takes the form's place
            self.query_one("#form").display = self.query_one("#report").display = state is None
        if state is not None and self.progress is None and self.form != Form.of_state(state):
            self.form = Form.of_state(state)  # resume and roll back work on the clusters it was started with
            self.show_form()
        self.update_keys()

    def show_report(self) -> None:
        i = self.inspection
        if i is None:
            self.show_text(Text("c runs the checks: nothing changes until you start. Tab edits the fields, Enter "
                                "leaves one."))
        elif self.managed:
            self.show_text(draw.managed(i))
        else:
            self.show_text(draw.inspection(i, self.form))

    def show_text(self, text: Text) -> None:
        self.query_one("#report-text", Static).update(escaped(text))
        self.query_one("#report").scroll_home(animate=False)  # a new report reads from its top

    def show_steps(self) -> None:
        self.query_one("#steps", Static).update(draw.steps(self.progress))

