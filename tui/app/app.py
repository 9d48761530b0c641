"""The pgferry terminal UI (docs/design.md §12).

The app owns navigation between screens; each screen owns one job:
overview → choose target → plan review → privileged steps → run → report,
overview → recovery walkthrough from the dirty banner, and overview → adoption for a database
holding the product with nothing recorded; overview → server upgrade (pg_upgrade of the product's
own cluster); `pgferry fleet ui`: fleet → an instance's run.
"""
from __future__ import annotations

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from pgferry.engine.errors import UsageError
from pgferry.engine.plan.planner import Plan

from . import themes
from .data import Overview, Source, error_text
from .help import HelpScreen
from .overview import OverviewScreen


class PgferryApp(App[None]):
    TITLE = "pgferry"
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Leave pgferry (a running upgrade goes on).", id="quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="Show help and keys.", id="help"),
    ]

    def __init__(self, source: Source | None = None, *, theme: str | None = None,
                 overview: Overview | None = None, watch_run: int | None = None, fleet=None) -> None:
        """watch_run: open the run screen on that run (0 = the latest) over the overview;
        fleet: a fleet_model.FleetSource: the fleet screen instead of the overview (`pgferry fleet ui`)."""
        super().__init__()
        self.fleet = fleet
        self.watch_run = watch_run
        self.animation_level = "none"  # calm over SSH
        self.source = source or Source()
        self.given = overview
        loaded, self.theme_problems = themes.load_all()
        for t in loaded:
            self.register_theme(t)
        name = themes.choose(theme, self.no_color, themes.configured_theme())
        if name not in self.available_themes:
            raise UsageError(f"unknown theme {name!r}", hint=f"known: {', '.join(sorted(self.available_themes))}")
        self.theme = name

    def on_mount(self) -> None:
        for problem in self.theme_problems:
            self.notify(problem, title="theme file skipped", severity="warning", markup=False)
        if self.fleet is not None:
            from .fleet import FleetScreen

            self.push_screen(FleetScreen(self.fleet))
            return
        self.push_screen(OverviewScreen(self.source, self.given))
        if self.watch_run is not None:
            self.attach(self.watch_run or None)

    async def action_quit(self) -> None:
        """Quitting never stops a run, but say so (and ask) when one is on screen and still going."""
        from .run import QuitWhileRunning, RunScreen

        if any(getattr(s, "upgrading", False) for s in self.screen_stack):
            # pg_upgrade runs in this process: quitting would cut it off (the state file says where)
            self.notify("the server upgrade runs in this process: wait for it to finish", title="not now",
                        severity="warning", markup=False)
            return
        running = [s for s in self.screen_stack if isinstance(s, RunScreen) and s.status == "running"]
        if not running or self.source.read_only or isinstance(self.screen, QuitWhileRunning):
            self.exit()
            return
        run = running[-1].live.run

        def answered(ok: bool | None) -> None:
            if ok:
                self.exit()

        self.push_screen(QuitWhileRunning(run.id, run.os_pid, self.source.come_back()), answered)

    def get_system_commands(self, screen: Screen):
        from .commands import global_commands, screen_commands

        yield from screen_commands(self, screen)
        yield from global_commands(self)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            from .commands import category

            self.push_screen(HelpScreen(category(self.screen)))

    def worker_failed(self, screen: Screen, error: BaseException) -> None:
        """The one place worker failures end up: a readable message on the screen that ran it."""
        secrets = self.source.secrets() + (self.fleet.secrets() if self.fleet is not None else [])
        screen.show_error(error_text(error, secrets))

    # -- navigation: screens call these, so the flow lives in one place -------------------------

    def choose_target(self) -> None:
        from .target import TargetScreen

        self.push_screen(TargetScreen(self.source))

    def review_plan(self, plan: Plan) -> None:
        from .plan import PlanScreen

        self.push_screen(PlanScreen(self.source, plan))

    def proceed(self, plan: Plan) -> None:
        """From plan review: privileged steps first when this role cannot run them, then confirm and run."""
        self._proceed(plan)

    @work(thread=True, exclusive=True, exit_on_error=False, group="proceed", description="checking privileges")
    def _proceed(self, plan: Plan) -> None:
        from pgferry.engine.upgrade.gate import waiting_for_someone_else

        waiting = waiting_for_someone_else(plan, self.source.connections())
        self.call_from_thread(self._after_privilege_check, plan, not waiting.empty)

    def _after_privilege_check(self, plan: Plan, needs_grant: bool) -> None:
        if needs_grant:
            from .privileged import PrivilegedScreen

            self.push_screen(PrivilegedScreen(self.source, plan))
        else:
            self.confirm_and_run(plan)

    def confirm_and_run(self, plan: Plan) -> None:
        from .run import confirm_and_start

        confirm_and_start(self, plan)

    def start_run(self, plan: Plan, backup_dir: str | None = None) -> None:
        self._launch(plan.direction, plan.to_version, backup_dir)

    def resume_run(self, to_version: str, direction: str) -> None:
        self._launch(direction, to_version)

    def _launch(self, direction: str, to_version: str, backup_dir: str | None = None) -> None:
        from pgferry.tui.launch import start

        from .run import RunScreen

        release = self.source.definitions().release(to_version)
        channel = release.channel if release.channel != "stable" else None
        args = self.source.cli_args() + (["--backup", backup_dir] if backup_dir else [])
        launched = start(direction, to_version, args, self.source.child_env(), channel)
        while len(self.screen_stack) > 2:  # back to the overview, then the run on top of it
            self.pop_screen()
        self.push_screen(RunScreen(self.source, None, launched))

    def attach(self, run_id: int | None = None) -> None:
        from .run import RunScreen

        self.push_screen(RunScreen(self.source, run_id))

    def open_instance_run(self, source: Source, run_id: int) -> None:
        """From the fleet screen: one instance's upgrade run, on the run screen `watch` opens."""
        from .run import RunScreen

        self.push_screen(RunScreen(source, run_id))

    def open_adoption(self) -> None:
        from .adopt import AdoptScreen

        self.push_screen(AdoptScreen(self.source))

    def open_server_upgrade(self) -> None:
        from .server import ServerUpgradeScreen

        self.push_screen(ServerUpgradeScreen(self.source))

    def open_recovery(self) -> None:
        from .recovery import RecoveryScreen

        self.push_screen(RecoveryScreen(self.source))
