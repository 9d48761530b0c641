"""The server upgrade's state file (engine/server/state.py): where an interrupted upgrade was, and
what is safe from there, per mode; written owner-only beside the new data directory."""
from __future__ import annotations

import stat

import pytest

from pgferry.engine.server.state import State, load, work_dir


def state(tmp_path, mode: str, done: list[str], current: str | None = None) -> State:
    return State(mode, str(tmp_path / "pg15"), str(tmp_path / "pg18"), "/old/bin", "/new/bin", "3.20.0",
                 initdb_args=["-U", "postgres"], done=done, current=current)


BEFORE_START = ["initdb", "check", "backup", "stop-old", "pg_upgrade", "configure"]


@pytest.mark.parametrize("mode", ["copy", "clone", "link"])
def test_before_the_new_server_starts_every_mode_can_roll_back(tmp_path, mode):
    s = state(tmp_path, mode, BEFORE_START)
    assert s.position() == "stopped after configure" and s.next_step() == "start-new"
    assert s.rollback_possible()
    assert s.safe_actions()[1].startswith("roll back: pgferry server-upgrade --rollback")


@pytest.mark.parametrize("mode, back", [("copy", True), ("clone", True), ("link", False)])
def test_once_the_new_server_started_only_link_mode_has_no_way_back(tmp_path, mode, back):
    s = state(tmp_path, mode, BEFORE_START, current="start-new")
    assert s.position() == "interrupted during start-new (after configure)"
    assert s.rollback_possible() is back
    assert ("restore the backup" in s.safe_actions()[1]) is not back


def test_the_state_file_is_owner_only_and_read_back(tmp_path):
    s = state(tmp_path, "copy", ["initdb"], current="check")
    s.save()
    assert s.path.parent == work_dir(tmp_path / "pg18")
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600 and stat.S_IMODE(s.path.parent.stat().st_mode) == 0o700
    assert load(tmp_path / "pg18") == s
    s.complete("check")
    assert load(tmp_path / "pg18").done == ["initdb", "check"] and load(tmp_path / "pg18").current is None


def test_stopped_before_the_old_server_was_nothing_of_it_changed(tmp_path):
    s = state(tmp_path, "link", ["initdb"], current="check")  # pg_upgrade --check failed or was killed
    assert not s.old_changed and s.rollback_possible()
    assert s.safe_actions() == ["resume: pgferry server-upgrade --resume (continues with check)",
                                "roll back: pgferry server-upgrade --rollback (the old server never stopped: it "
                                "only sets the new cluster aside)"]
