"""The start confirmation's backup choice (issue 15 §5): off until ticked, and what it looks like.
The guided journey (test_tui_journey.py) ticks it and finds the backup in the run's report."""
from __future__ import annotations

import asyncio

from textual.app import App
from textual.widgets import Checkbox

from pgferry.tui.app.confirm import TypedConfirm

BODY = ("upgrade 1.0.0 → 1.1.0: 4 schema migration(s), 0 out-of-band, 0 stop(s).\n\nThe run goes on in its own "
        "process: closing pgferry or losing the connection does not stop it. Type the target version to start.\n\n"
        "Backed up first (ticked below), each database it changes is dumped to /home/admin/.local/state/pgferry/"
        "backups before its first change; `pgferry restore --run N` puts it back.")
OPTION = "Back up each database it changes first (pg_dump)"


class StartConfirm(App):
    def __init__(self, option: str | None = OPTION):
        super().__init__()
        self.option = option
        self.answers: list[tuple[bool, bool]] = []

    def on_mount(self) -> None:
        confirm = TypedConfirm("Start the upgrade?", BODY, "1.1.0", "Start", option=self.option)
        self.push_screen(confirm, lambda ok: self.answers.append((ok, confirm.chosen)))


def answer(*keys: str, tick: bool) -> list[tuple[bool, bool]]:
    app = StartConfirm()

    async def go():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            if tick:
                await pilot.click("#confirm-option")
                assert str(app.screen.query_one(Checkbox).label).endswith(" ✓")
            app.screen.query_one("#confirm-input").focus()
            await pilot.press(*keys)
            await pilot.pause()

    asyncio.run(go())
    return app.answers


def test_the_backup_is_taken_only_when_ticked():
    assert answer(*"1.1.0", "enter", tick=False) == [(True, False)]
    assert answer(*"1.1.0", "enter", tick=True) == [(True, True)]
    assert answer("escape", tick=True) == [(False, True)]  # cancelled: nothing starts, ticked or not


def test_a_confirmation_without_an_option_has_no_checkbox():
    app = StartConfirm(option=None)

    async def go():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert not app.screen.query(Checkbox)

    asyncio.run(go())


def test_start_confirmation_snapshot(snap_compare):
    async def tick(pilot):
        await pilot.click("#confirm-option")

    assert snap_compare(StartConfirm(), terminal_size=(80, 24), run_before=tick)
