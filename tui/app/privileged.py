"""Privileged steps (docs/design.md §8): the whole bundle for a DBA, copy or save it, verify it, or grant it
with a superuser connection; Continue stays dimmed, with its reason, until the catalog shows it done.
"""
from __future__ import annotations

import os

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from pgferry.engine.errors import PgferryError
from pgferry.engine.privileges.grant import BundleCheck, check_bundle, record_check, run_bundle
from pgferry.engine.plan.planner import Plan
from pgferry.engine.privileges.privileges import Bundle, build_bundle
from pgferry.engine.bookkeeping.runs import operator_name
from pgferry.engine.safetext import printable

from .base import PgferryScreen, bottom_bar
from .confirm import TypedConfirm
from .data import Source, error_text
from .grant_dialog import GrantDialog
from .safe import escaped
from .savefile import SaveText

MARKS = {True: "✓ found in the catalog", False: "✗ not found in the catalog",
         None: "? the catalog cannot show it: confirm with the token"}
UNCHECKED = "· not checked yet"


def operator() -> str:
    return os.environ.get("PGFERRY_OPERATOR") or operator_name()


def sql_text(text: str, dark: bool) -> Text:
    """Highlighted SQL without a background block; ANSI themes follow the terminal's palette
    (16 colours, NO_COLOR) instead of fixed RGB."""
    text = printable(text)  # shown, never run from here: escape sequences in it stay inert
    highlighted = Syntax(text, "sql", theme="ansi_dark" if dark else "ansi_light").highlight(text)
    highlighted.rstrip()
    highlighted.no_wrap = False  # long lines wrap in a narrow terminal instead of hiding behind a scrollbar
    return highlighted


def indent(renderable: RenderableType, n: int) -> Padding:
    return Padding(renderable, (0, 0, 0, n))


class BundleLoaded(Message):
    def __init__(self, bundle: Bundle, check: BundleCheck) -> None:
        super().__init__()
        self.bundle, self.check = bundle, check


class BundleChecked(Message):
    """A verification finished: `recorded` is None when nothing was recorded (something is missing)."""

    def __init__(self, check: BundleCheck, recorded: list[int] | None, note: str = "") -> None:
        super().__init__()
        self.check, self.recorded, self.note = check, recorded, note


class PrivilegedFailed(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class PrivilegedScreen(PgferryScreen):
    CSS_PATH = "privileged.tcss"
    BINDINGS = [
        Binding("y", "copy", "Copy", tooltip="Send the bundle to the clipboard (OSC 52).", id="privileged-copy"),
        Binding("s", "save", "Save", tooltip="Write the bundle to a file (0600).", id="privileged-save"),
        Binding("v", "verify", "Verify", tooltip="Check the catalog and record the steps as done.",
                id="privileged-verify"),
        Binding("g", "grant", "Grant", tooltip="Run the bundle myself with a superuser connection.",
                id="privileged-grant"),
        Binding("c", "continue", "Continue", tooltip="Go on to confirm and run the upgrade.", id="privileged-continue"),
        Binding("escape", "back", "Back", tooltip="Back to the plan.", id="privileged-back"),
    ]

    def __init__(self, source: Source, plan: Plan, *, bundle: Bundle | None = None,
                 check: BundleCheck | None = None) -> None:
        super().__init__()
        self.source = source
        self.plan = plan
        self.given = bundle is not None  # given data is shown as is and never reloaded (snapshots)
        self.bundle = bundle
        self.check = check
        self.verified = False
        self.busy: str | None = None  # what a worker is doing, for the dimmed keys' reason

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Text(f"pgferry · privileged steps · {self.plan.from_label} → {self.plan.to_version}"), id="title")
        yield Static("reading the privileged steps…", id="summary")
        yield Static(id="token")
        yield Static(id="error")
        with VerticalScroll(id="bundle"):
            yield Static(id="bundle-text")
        yield bottom_bar()

    def on_mount(self) -> None:
        self.query_one("#bundle").focus()
        if self.given:
            self.show()
        else:
            self.start("reading the bundle")
            self.load()

    # -- what the keys may do ----------------------------------------------------------------

    def not_found(self) -> int:
        """Statements of the bundle the last check did not find done (all of them before a check)."""
        count = 0
        for item in self.bundle.items if self.bundle else ():
            v = self.check.of(item.schema, item.migration_id, item.up) if self.check else None
            count += len(item.statements) if v is None else sum(p is not True for p in v.present)
        return count

    def disabled_reason(self, action: str) -> str | None:
        if action == "back":
            return None
        if self.bundle is None:
            return "reading the privileged steps…"
        if self.busy and action != "copy":
            return f"busy: {self.busy}…"
        if action in ("verify", "grant", "continue") and self.source.read_only:
            return "read-only view (pgferry watch)"
        if action == "grant" and self.verified:
            return "nothing left to grant: verified and recorded"
        if action == "continue" and not self.verified:
            n = self.not_found()
            if n:
                return f"verify first: {n} statement(s) not yet found in the catalog"
            return "verify first (v): the steps are done but not recorded yet"
        return None

    def start(self, what: str) -> None:
        self.busy = what
        self.query_one("#error", Static).remove_class("show")
        self.update_keys()

    def done(self) -> None:
        self.busy = None
        self.update_keys()

    # -- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.bundle.to_sql())
        self.app.notify("Sent the bundle to the clipboard with OSC 52 — if your terminal or tmux blocks it, press s "
                        "to save to a file instead (tmux needs `set -g set-clipboard on`).",
                        title="copied with OSC 52", markup=False, timeout=8)

    def action_save(self) -> None:
        def saved(path) -> None:
            if path is not None:
                self.app.notify(f"wrote {path} (owner-only, 0600)", title="bundle saved", markup=False)

        self.app.push_screen(SaveText(f"Save the privileged bundle for {self.plan.to_version}",
                                      f"pgferry-privileged-{self.plan.to_version}.sql", self.bundle.to_sql()), saved)

    def action_verify(self) -> None:
        self.start("verifying in the catalog")
        self.verify_and_record()

    def action_grant(self) -> None:
        def granted(dsn: str | None) -> None:
            if dsn:
                self.start("running the bundle as a superuser")
                self.grant(dsn)

        databases = sorted({i.database for i in self.bundle.items})
        self.app.push_screen(GrantDialog(self.bundle, databases, self.source.superuser_dsn or ""), granted)

    def action_continue(self) -> None:
        self.app.confirm_and_run(self.plan)

    # -- workers: results come back as messages; failures never carry a password -------------

    def _dsns(self) -> dict[str, str]:
        return dict(self.source.connections().dsns)

    def _fail(self, exc: BaseException, *extra: str) -> None:
        self.post_message(PrivilegedFailed(error_text(exc, [*self.source.secrets(), *extra])))

    @work(thread=True, exclusive=True, exit_on_error=False, group="privileged", description="reading the bundle")
    def load(self) -> None:
        try:
            dsns = self._dsns()
            self.post_message(BundleLoaded(build_bundle(self.plan, dsns), check_bundle(self.plan, dsns)))
        except Exception as exc:  # noqa: BLE001 - shown on this screen, scrubbed
            self._fail(exc)

    def _check_and_record(self, dsns: dict[str, str], who: str, token_confirmed: bool, note: str = "") -> None:
        check = check_bundle(self.plan, dsns)
        if check.token != self.bundle.token:
            raise PgferryError("the privileged SQL of this plan changed since the bundle was shown: nothing recorded",
                               hint="press Esc and open the plan again to see the new bundle")
        if not check.complete(token_confirmed):
            self.post_message(BundleChecked(check, None, note))
            return
        recorded = record_check(check, dsns, who, self.source.bookkeeping_schema, token_confirmed)
        self.post_message(BundleChecked(check, recorded, note))

    @work(thread=True, exclusive=True, exit_on_error=False, group="privileged", description="verifying")
    def verify_and_record(self, token_confirmed: bool = False) -> None:
        try:
            self._check_and_record(self._dsns(), operator(), token_confirmed)
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="privileged", description="granting")
    def grant(self, superuser_dsn: str) -> None:
        try:
            dsns = self._dsns()
            role = run_bundle(self.bundle, dsns, superuser_dsn)
            # The app ran exactly this bundle, so steps the catalog cannot show are confirmed by it.
            self._check_and_record(dsns, f"{operator()} via a superuser connection as {role}", True,
                                   f"ran the bundle as {role}")
        except Exception as exc:  # noqa: BLE001
            self._fail(exc, superuser_dsn)

    # -- results ------------------------------------------------------------------------------

    def on_bundle_loaded(self, message: BundleLoaded) -> None:
        self.bundle, self.check = message.bundle, message.check
        self.done()
        self.show()

    def on_bundle_checked(self, message: BundleChecked) -> None:
        self.check = message.check
        self.done()
        if message.recorded is not None:
            self.verified = True
            n = len(message.recorded)
            self.app.notify(f"{message.note + ': ' if message.note else ''}verified; {n} step(s) granted, each recorded "
                            "applied when the upgrade reaches it", title="✓ privileged steps done", markup=False)
        elif message.check.missing:
            self.app.notify(f"{self.not_found()} statement(s) not found in the catalog yet: nothing recorded",
                            title="✗ not done yet", severity="warning", markup=False)
        else:
            self.ask_token(message.check)
        self.show()

    def ask_token(self, check: BundleCheck) -> None:
        """Steps the catalog cannot show (a COMMENT, ALTER SYSTEM …): the DBA confirms them with the token."""
        lines = [f"{v.item.schema} {v.item.migration_id} {v.item.name}: {v.item.sql}" for v in check.unknowable]
        body = ("The catalog cannot show whether these ran:\n\n" + "\n".join(lines) +
                "\n\nType the token only if the DBA ran this bundle (its token is shown in the file's header).")

        def answered(ok: bool) -> None:
            if ok:
                self.start("recording")
                self.verify_and_record(True)

        self.app.push_screen(TypedConfirm("Confirm with the bundle's token", body, check.token,
                                          "record them as done"), answered)

    def on_privileged_failed(self, message: PrivilegedFailed) -> None:
        self.done()
        self.show_error(message.text)

    def show_error(self, text: str) -> None:
        panel = self.query_one("#error", Static)
        panel.update(Text("✗ " + text))
        panel.add_class("show")

    # -- drawing ------------------------------------------------------------------------------

    def show(self) -> None:
        b = self.bundle
        summary = self.query_one("#summary", Static)
        n = sum(len(i.statements) for i in b.items)
        if self.verified:
            summary.update(Text(f"✓ verified in the catalog and held as granted (each recorded applied when the run reaches it): "
                                f"press c to continue to {self.plan.to_version}"))
        elif self.check is not None and not self.not_found():
            summary.update(Text("✓ the catalog shows every statement done: press v to hold them as granted, then c to continue"))
        else:
            summary.update(Text(f"! role {b.role} cannot run {n} statement(s) below: hand them to a DBA (y copy, "
                                "s save), then v verify; or g to run them with a superuser connection."))
        summary.set_class(self.verified, "done")
        self.query_one("#token", Static).update(Text(f"token {b.token}  (names this exact SQL; quote it to the DBA)"))
        self.query_one("#bundle-text", Static).update(self.render_bundle())
        self.update_keys()

    def render_bundle(self) -> RenderableType:
        dark = self.app.current_theme.dark
        parts: list[RenderableType] = []
        databases: dict[str, list] = {}
        for item in self.bundle.items:
            databases.setdefault(item.database, []).append(item)
        for database, items in databases.items():
            parts.append(Text(f"database {database}", style="bold"))
            for item in items:
                v = self.check.of(item.schema, item.migration_id, item.up) if self.check else None
                way = "" if item.up else " [revert]"
                parts.append(indent(escaped(Text(f"{item.schema} {item.migration_id} {item.name}{way} · {item.path}")), 2))
                for reason in item.reasons:
                    parts.append(indent(Text(f"role {self.bundle.role} cannot: {reason}", style="italic"), 4))
                for n, st in enumerate(item.statements):
                    mark = UNCHECKED if v is None else MARKS[v.present[n]]
                    parts.append(indent(Text(mark, style="bold"), 4))
                    parts.append(indent(sql_text(st.text.rstrip() + ";", dark), 6))
            parts.append(Text(""))
        v = self.plan.to_version
        parts.append(Text("From a shell, the same bundle and its verification:", style="dim"))
        parts.append(indent(Text(f"pgferry privileged --to {v} --out pgferry-privileged-{v}.sql", style="dim"), 2))
        parts.append(indent(Text(f"pgferry privileged verify --to {v}", style="dim"), 2))
        return Group(*parts)
