"""Writing the pre-analysed index a product ships (defindex.py), when a release is built:
`pgferry validate --write-index`. Only definitions that validate get one, and every file is parsed
afresh for it (an index is never copied from an older one)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from pgferry import __version__

from ..errors import Finding, PgferryError
from .catalog import load_definitions
from .defindex import FORMAT, INDEX_FILE, Analyses, entry_of


def index_text(path: str | Path, *, refuse_warnings: bool = False) -> tuple[str | None, list[Finding]]:
    """The index of the definitions at `path`, as written; None when they have errors (or warnings
    with `refuse_warnings`), with the findings of their validation either way."""
    root = Path(path)
    entries: dict[str, list] = {}

    def record(key: str, digest: str, value) -> None:
        entry = entry_of(digest, value)
        if entry is not None:
            entries[key] = entry

    defs, findings = load_definitions(root, analyses=Analyses(root, recorder=record))
    if defs is None or (refuse_warnings and findings):
        return None, findings
    # One file per line: a release's change to the index reads as the files it changed.
    dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    lines = [f"{dump(key)}:{dump(entries[key])}" for key in sorted(entries)]
    head = f'{{"format":{FORMAT},"pgferry":{dump(__version__)},"files":{{\n'
    return head + ",\n".join(lines) + "\n}}\n", findings


def write_index(path: str | Path, *, refuse_warnings: bool = False) -> tuple[Path | None, list[Finding]]:
    """Write `path`/pgferry-index.json (see index_text); the file written, or None and why not."""
    text, findings = index_text(path, refuse_warnings=refuse_warnings)
    if text is None:
        return None, findings
    target = Path(path) / INDEX_FILE
    tmp = target.with_name(f".{INDEX_FILE}.{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)  # replaces a symlink itself, never what it points at
    except OSError as exc:
        raise PgferryError(f"cannot write {target}: {exc.strerror}",
                           hint="write the index where the definitions can be changed (a checkout, the release build)") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target, findings
