"""Fixtures of the app's tests: Textual without cursor blink or animations (they make snapshots and
pilots flaky), and the small product installed."""
from __future__ import annotations

import pytest
from textual.widgets import Input

from pgferry.tui.cli import main
from tests.support import SMALL


@pytest.fixture(autouse=True)
def calm(monkeypatch):
    monkeypatch.setattr(Input, "cursor_blink", False, raising=False)
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture
def installed(database):
    """A database with the small product at its newest release."""
    assert main(["up", "--dsn", database, "--migrations", str(SMALL)]) == 0
    return database
