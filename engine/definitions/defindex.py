"""The pre-analysed index a product ships in its migrations folder (docs/authoring.md, "Shipping the
index"): for each definition file, its content's sha256 and what loading derives from it (the SQL's
statements with their offsets, kinds and flags and what the lint reads off each; the YAML's data
and line map). `pgferry validate --write-index` writes it when a release is built (indexwriter.py).

Loading without a defcache hit reads and hashes every file as always; a file whose hash matches its
entry takes its analysis from the entry instead of the parsers, any other file (edited by hand,
added since) is parsed as before, so an index is never trusted stale: at worst it is slower.
An index written by another pgferry or another format is ignored. One that cannot be used (not a
regular file, too large, not JSON, an entry whose statements lie outside its file) is ignored as
a whole, with one warning saying why.

The index is as trusted as the SQL beside it (it ships with it): it is checked so that no index can
crash a load, not against a product author who writes wrong analyses on purpose.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from pathlib import Path

from pgferry import __version__

from ..errors import Finding
from .definitions import max_file_mb
from .notes import Hit, LintNotes
from .sqlfile import Facts, SqlScript, parse_script, script_of
from .yamlfile import YamlDoc, load_yaml

INDEX_FILE = "pgferry-index.json"
FORMAT = 1  # the layout of an entry below; a change of it, or of pgferry's version, misses
FIX = "rewrite it with `pgferry validate --write-index`, or delete it"


class IndexUnusable(Exception):
    """Why the index cannot be used at all (said once, as a warning)."""


# What a wrong entry raises while it is decoded (not JSON, nested too deep, the wrong shapes).
BAD_ENTRY = (IndexUnusable, TypeError, ValueError, RecursionError)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Analyses:
    """Where loading gets a file's analysis: its index entry when the file's content hash matches,
    the parsers otherwise. `recorder(key, digest, value)` sees every file parsed (indexwriter.py)."""

    def __init__(self, root: Path, entries: dict | None = None, rel: str = INDEX_FILE, recorder=None, notes: bool = True):
        self._prefix = "" if str(root) == "." else str(root) + os.sep
        self._entries = entries
        self._notes = notes  # the lint's notes: only `validate` reads them
        self._rel = rel
        self._recorder = recorder
        self.warning: Finding | None = None  # why the index was dropped, if it was

    @classmethod
    def of_folder(cls, root: Path, *, notes: bool = True) -> Analyses:
        """The analyses for `root`, with the index it ships (none, if it ships none or an unusable one)."""
        rel = f"{root.name}/{INDEX_FILE}" if root.name else INDEX_FILE
        analyses = cls(root, rel=rel, notes=notes)
        try:
            analyses._entries = read_index(root / INDEX_FILE)
        except IndexUnusable as exc:
            analyses._drop(str(exc))
        return analyses

    def key(self, path: str | Path) -> str:
        """A file's name in the index: its path inside the migrations folder, with '/'."""
        text = str(path)
        text = text[len(self._prefix):] if text.startswith(self._prefix) else text
        return text.replace(os.sep, "/")

    def script(self, path: str | Path, rel: str, text: str) -> SqlScript:
        """The SQL file `text` (at `path`, named `rel` in findings); SqlSyntaxError if unparsable."""
        key, digest = self.key(path), sha256(text)
        script = None
        try:
            if (entry := self._entry(key, digest)) is not None:
                script = script_of(rel, text, *_sql_parts(entry, len(text), self._notes))
        except BAD_ENTRY as exc:
            self._distrust(key, exc)
        if script is None:
            script = parse_script(rel, text)
            if self._recorder is not None:
                self._recorder(key, digest, script)
        return script

    def yaml(self, path: str | Path, text: str) -> YamlDoc:
        """The YAML file `text`; YamlError if it is not valid YAML."""
        key, digest = self.key(path), sha256(text)
        try:
            if (entry := self._entry(key, digest)) is not None:
                return _yaml_doc(entry)
        except BAD_ENTRY as exc:
            self._distrust(key, exc)
        doc = load_yaml(text)
        if self._recorder is not None:
            self._recorder(key, digest, doc)
        return doc

    def _entry(self, key: str, digest: str) -> list | None:
        """The file's entry if its hash is the file's, decoded (ValueError if it is not JSON).
        Taken out of the index: each file is read once, and its entry's memory goes back as it is."""
        raw = self._entries.pop(key, None) if self._entries is not None else None
        if raw is None or not raw.startswith(f'["{digest}",'):
            return None
        entry = json.loads(raw)
        _check(type(entry) is list, "not a list")
        return entry

    def _distrust(self, key: str, exc: Exception) -> None:
        self._drop(f"entry {key}: {exc}")

    def _drop(self, why: str) -> None:
        self._entries = None
        self.warning = Finding(self._rel, None, f"index ignored: {why}; every file is parsed instead", FIX,
                               severity="warning", rule="index")


def read_index(path: Path) -> dict[str, str] | None:
    """The index's entries by file, still as JSON text (decoded when their file is read: a few MB of
    text weigh less than the tens of MB the decoded lists would while the definitions are built);
    None if there is none or it belongs to another pgferry.

    The layout is indexwriter's: a first line naming the format and pgferry's version (whatever a
    later format puts after it), then one `"file":[entry]` per line, then a closing line."""
    limit = int(max_file_mb() * 2**20)
    try:
        # Never through a symlink (it could name anything on the machine), never blocking on a FIFO.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexUnusable("a symlink (not followed)" if os.path.islink(path) else exc.strerror) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IndexUnusable("not a regular file")
        if st.st_size > limit:
            raise IndexUnusable(f"{st.st_size / 2**20:.1f} MB, over the {max_file_mb():g} MB limit for one definition file")
        data = f.read(limit + 1)
    head, _, rest = data.decode("utf-8", errors="replace").partition("\n")
    try:
        doc = json.loads(head + "}}")
    except (ValueError, RecursionError) as exc:
        raise IndexUnusable(f"not an index pgferry wrote ({exc})"[:200]) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("pgferry") != __version__:
        return None  # another pgferry's: a miss, like a file edited since
    _check(doc.get("files") == {} and (rest.endswith("\n}}\n") or rest == "}}\n"), "truncated or not in the layout pgferry writes")
    return _entries(rest, len(rest) - len("}}\n"))


def _entries(text: str, stop: int) -> dict[str, str]:
    """`"file":[entry]` per line of text[:stop], by file: one slice each, no list of lines beside
    them (the text is most of the index's memory; twice it would be felt when planning 10,000)."""
    entries: dict[str, str] = {}
    decode = json.JSONDecoder().raw_decode
    pos, n = 0, 2
    while pos < stop:
        eol = text.index("\n", pos)  # "\n" only: JSON escapes it in strings, not U+2028 and the like
        if eol > pos:  # else the blank line of an index of no file
            try:
                key, end = decode(text, pos)
            except (ValueError, RecursionError):
                key, end = None, eol
            _check(type(key) is str and end < eol and text[end] == ":", f"line {n} is not an entry")
            entries[key] = text[end + 1:eol - 1 if text[eol - 1] == "," else eol]
        pos, n = eol + 1, n + 1
    return entries


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise IndexUnusable(what)


def _opt_str(value) -> bool:
    return value is None or type(value) is str


def _sql_parts(entry: list, size: int, notes: bool) -> tuple[list, list, list | None]:
    """(spans, facts, notes) of an SQL entry [sha256, spans, facts, notes], checked against the file."""
    _check(len(entry) == 4, "not an SQL entry")
    _, spans, facts, notes = entry
    _check(isinstance(spans, list) and isinstance(facts, list) and isinstance(notes, list)
           and len(spans) == len(facts) == len(notes), "malformed statements")
    end = 0
    for span in spans:
        _check(type(span) is list and len(span) == 2, "malformed span")
        start, length = span
        _check(type(start) is int and type(length) is int and end <= start and length > 0 and start + length <= size,
               "a statement lies outside the file")
        end = start + length
    return spans, [_facts(f) for f in facts], [_notes(n) for n in notes] if notes else None


def _facts(value) -> Facts:
    _check(type(value) is list and len(value) == len(Facts._fields), "malformed facts")
    kind, privilege, concurrent, non_tx, cic, named = value
    _check(type(kind) is str and _opt_str(privilege) and _opt_str(non_tx)
           and type(concurrent) is bool and type(cic) is bool and type(named) is bool, "malformed facts")
    return Facts._make(value)


def _notes(value) -> LintNotes:
    _check(isinstance(value, list) and len(value) == 4, "malformed lint notes")
    creates, hits, gap, session = value
    _check(_opt_str(creates) and _opt_str(gap) and _opt_str(session) and isinstance(hits, list), "malformed lint notes")
    for hit in hits:
        _check(isinstance(hit, list) and len(hit) == 4 and all(_opt_str(x) for x in hit)
               and isinstance(hit[0], str) and isinstance(hit[1], str) and isinstance(hit[3], str), "malformed lint hit")
    return LintNotes(creates, tuple(Hit(*h) for h in hits), gap, session)


def _yaml_doc(entry: list) -> YamlDoc:
    """The YamlDoc of a YAML entry [sha256, data, [[key path, line], ...]]."""
    _check(len(entry) == 3 and isinstance(entry[2], list), "not a YAML entry")
    lines = {}
    for item in entry[2]:
        _check(isinstance(item, list) and len(item) == 2 and isinstance(item[0], list)
               and all(json_exact(k) and not isinstance(k, (list, dict)) for k in item[0])
               and type(item[1]) is int and item[1] >= 1, "malformed line map")
        lines[tuple(item[0])] = item[1]
    return YamlDoc(entry[1], lines)


def entry_of(digest: str, value: SqlScript | YamlDoc) -> list | None:
    """A file's entry, as the readers above take it back; None for YAML that JSON cannot hold as it
    is (a date, a key that is no string: such a file is parsed at load, as without an index)."""
    if isinstance(value, SqlScript):
        from .lint import lint_notes  # pglast's trees: only where an index is written

        sts = value.statements
        notes = [[(n := lint_notes(st)).creates, [list(h) for h in n.hits], n.idempotency_gap, n.session_setting]
                 for st in sts]
        return [digest, [[st.offset, len(st.text)] for st in sts], [list(st.facts) for st in sts], notes]
    lines = [[list(path), line] for path, line in value.lines.items()]
    if not json_exact(value.data) or not json_exact(lines):
        return None
    return [digest, value.data, lines]


def json_exact(value) -> bool:
    """Whether JSON gives `value` back as it is (same types): only such YAML data is indexed."""
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(json_exact(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_exact(v) for k, v in value.items())
    return False

