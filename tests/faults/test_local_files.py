"""pgferry's files on this machine are owner-only under umask 000: the definitions cache under
~/.cache/pgferry, run journals under ~/.local/state/pgferry, a journal named with --journal."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, SMALL, query
from pgferry.engine.userdirs import SymlinkRefused, open_private, write_private


def pgferry_umask0(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`pgferry ARGS` with umask 000 and HOME at `home` (no XDG_* nor PGFERRY_CACHE_DIR: the defaults)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "PGFERRY_")) and k != "PGDATABASE"}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "pgferry", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120, preexec_fn=lambda: os.umask(0))


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_cache_state_and_journal_files_are_owner_only_under_umask_0(database, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # an older pgferry made the state folder world-writable: it is tightened, not trusted
    old_state = home / ".local" / "state" / "pgferry"
    old_state.mkdir(parents=True)
    os.chmod(old_state, 0o777)
    common = ["--dsn", database, "--migrations", str(SMALL)]

    r = pgferry_umask0(home, "upgrade", "--to", "1.0.0", "--yes", "--no-progress", "--journal", "auto", *common)
    assert r.returncode == 0, r.stderr
    named = tmp_path / "named.jsonl"
    named.write_text("")
    os.chmod(named, 0o644)
    r = pgferry_umask0(home, "upgrade", "--to", "1.0.0", "--yes", "--no-progress", "--journal", str(named), *common)
    assert r.returncode == 0, r.stderr
    assert mode(named) == 0o600 and named.read_text().strip(), "an existing journal is tightened and written"

    cache = home / ".cache"
    pickles = list(cache.rglob("*.pickle"))
    journals = list((old_state / "runs").glob("*.jsonl"))
    assert len(pickles) == 1 and len(journals) == 1, (pickles, journals)
    for f in pickles + journals:
        assert mode(f) == 0o600, f"{f} is {oct(mode(f))}"
    for d in [cache, *(p for p in cache.rglob("*") if p.is_dir()), old_state, old_state / "runs"]:
        assert mode(d) == 0o700, f"{d} is {oct(mode(d))}"


def test_a_journal_path_that_is_a_symlink_is_refused(database, tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("not a journal\n")
    os.chmod(target, 0o644)
    link = tmp_path / "run.jsonl"
    link.symlink_to(target)
    r = pgferry_umask0(tmp_path, "upgrade", "--to", "1.0.0", "--yes", "--no-progress", "--journal", str(link),
                       "--dsn", database, "--migrations", str(SMALL))
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines()[0] == f"error: journal {link} is a symbolic link; refusing to write through it"
    assert target.read_text() == "not a journal\n" and mode(target) == 0o644
    assert query(database, "SELECT to_regclass('migration_logs')") == [(None,)], "nothing ran"


# -- open_private: the one way pgferry opens a file of its own (journal, launch output, cache, dump, --out) ----


def test_open_private_refuses_a_symlink_and_leaves_its_target_alone(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("someone's file\n")
    os.chmod(target, 0o644)
    link = tmp_path / "out.txt"
    link.symlink_to(target)
    for how in ({}, {"append": True}):
        with pytest.raises(SymlinkRefused, match="is a symbolic link; refusing to write through it"):
            open_private(link, **how)
    with pytest.raises(SymlinkRefused):
        write_private(str(link), "overwritten")
    assert target.read_text() == "someone's file\n" and mode(target) == 0o644


def test_a_link_to_a_stream_is_written_through(tmp_path):
    """`--out /dev/stdout` is a link to a pipe or terminal: nothing to leak or clobber, so it works."""
    read_end, write_end = os.pipe()
    link = tmp_path / "stdout"
    link.symlink_to(f"/proc/self/fd/{write_end}")
    write_private(str(link), "through the pipe")
    os.close(write_end)
    with os.fdopen(read_end) as f:
        assert f.read() == "through the pipe"


def test_open_private_tightens_an_existing_file_and_creates_new_ones_owner_only(tmp_path):
    old = tmp_path / "old.txt"
    old.write_text("stale contents\n")
    os.chmod(old, 0o644)
    write_private(str(old), "new")
    assert mode(old) == 0o600 and old.read_text() == "new", "tightened and truncated"
    os.chmod(old, 0o644)
    with os.fdopen(open_private(old, append=True), "a") as f:
        f.write(" and more")
    assert mode(old) == 0o600 and old.read_text() == "new and more", "tightened and appended to"
    previous = os.umask(0)
    try:
        os.close(open_private(tmp_path / "fresh.txt", exclusive=True))
    finally:
        os.umask(previous)
    assert mode(tmp_path / "fresh.txt") == 0o600
    with pytest.raises(FileExistsError):
        open_private(old, exclusive=True)
    assert mode(old) == 0o600 and old.read_text() == "new and more", "exclusive leaves an existing file alone"
