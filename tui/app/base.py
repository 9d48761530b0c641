"""Shared base for the app's screens: worker failures go to the app's one error handler."""
from __future__ import annotations

from textual.screen import Screen
from textual.worker import Worker, WorkerState


class PgferryScreen(Screen):
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.worker_failed(self, event.worker.error)

    def show_error(self, text: str) -> None:
        self.app.notify(text, title="error", severity="error", markup=False)
