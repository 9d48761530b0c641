"""Migration definitions on disk (docs/design.md §3) loaded into immutable values.

Loading never raises on bad input: every problem becomes a `Finding` with the file and
line, so `validate` can report all of them at once. `load()` is the strict front door the
other commands use: it raises `DefinitionError` when anything is wrong.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Protocol

from ..errors import Finding
from .sqlfile import SqlScript, SqlSyntaxError, parse_script
from .yamlfile import YamlDoc, YamlError, load_yaml


class Analyses(Protocol):
    """Where a file's analysis comes from: the parsers, or the index a product ships (defindex.Analyses)."""

    def script(self, path: str | Path, rel: str, text: str) -> SqlScript: ...

    def yaml(self, path: str | Path, text: str) -> YamlDoc: ...

MIGRATION_DIR = re.compile(r"^(\d+)_([a-z0-9][a-z0-9_-]*)$")
LOOSE_MIGRATION_DIR = re.compile(r"^(-?\d+)(?:_.*)?$")
OUT_OF_BAND_DIR = "out-of-band"

METADATA_KEYS = {
    "name": str,
    "parents": list,
    "privileged": bool,
    "nonIdempotent": bool,
    "createIndexConcurrently": bool,
    "replaces": list,
    "waivers": dict,
}


@dataclass(frozen=True)
class Migration:
    schema: str
    id: int
    slug: str
    name: str
    parents: tuple[int, ...]
    up: SqlScript
    down: SqlScript
    path: str  # the folder, relative like the SQL files' paths, so findings read the same
    privileged: bool = False
    non_idempotent: bool = False
    create_index_concurrently: bool = False
    replaces: tuple[int, ...] = ()
    waivers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    metadata_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def metadata_path(self) -> str:
        return str(Path(self.path) / "metadata.yaml")

    def line_of(self, key: str) -> int:
        return self.metadata_lines.get(key, 1)

    @property
    def label(self) -> str:
        return f"{self.schema}/{self.id}_{self.slug}"

    def __repr__(self) -> str:  # keep pytest output readable
        return f"Migration({self.schema}:{self.id})"


@dataclass(frozen=True)
class LoadedSchema:
    name: str
    path: str
    migrations: Mapping[int, Migration]
    # ids of folders that could not be loaded: their errors are reported already, so the
    # graph checks must not report them again as unknown parents
    broken: frozenset[int] = frozenset()


def relative_path(path: Path, root: Path) -> str:
    # relative_to is lexical; the common case (path under root's parent) is a string slice, which
    # matters at five calls per migration folder.
    text, base = str(path), str(root.parent)
    if base not in (".", "/") and text.startswith(base + "/"):
        return text[len(base) + 1:]
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


# Squashed migrations (a whole schema's history in one up.sql, a pg_dump of it) run to a few MB.
# Loading takes about 50 times a file's size in memory while the parser's output is read (2.5 GB
# for 50 MB), so past this a file (a data dump, a generated file) costs more than it can be worth.
MAX_FILE_MB_ENV = "PGFERRY_MAX_FILE_MB"
DEFAULT_MAX_FILE_MB = 32
BOM = "\ufeff"


def max_file_mb() -> float:
    """The size limit for one definition file, in MB: PGFERRY_MAX_FILE_MB, else the default."""
    try:
        mb = float(os.environ.get(MAX_FILE_MB_ENV) or DEFAULT_MAX_FILE_MB)
    except ValueError:
        mb = DEFAULT_MAX_FILE_MB
    return mb if mb > 0 else DEFAULT_MAX_FILE_MB


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


_CHUNK = 2**16  # one read takes a definition file of the usual size whole


def _read_capped(fd: int, limit: int) -> tuple[bytes, int]:
    """A file's bytes, never more than one past the limit (that byte tells it is over), and its size.

    Few system calls (they are most of the cost of reading 30,000 small files) and no buffer of the
    limit's size (32 MB allocated and given back for every file)."""
    want = min(limit + 1, _CHUNK)
    data = os.read(fd, want)
    if len(data) < want:
        return data, len(data)  # the whole file, in one read
    size = os.fstat(fd).st_size
    chunks, got = [data], len(data)
    while got <= limit and (more := os.read(fd, min(max(size, got), limit) + 1 - got)):
        chunks.append(more)
        got += len(more)
    return b"".join(chunks), max(got, size)


def read_definition(path: str | Path, rel: str, findings: list[Finding]) -> str | None:
    """A definition file's text, or None with an error finding (too large, not UTF-8).

    A missing file raises FileNotFoundError: whether that is an error is the caller's business.
    A UTF-8 byte order mark is dropped with a warning: PostgreSQL's parser and YAML would see it as
    an invisible character at the start of the file."""
    mb = max_file_mb()
    limit = int(mb * 2**20)
    fd = os.open(path, os.O_RDONLY)  # no file object: thousands of small files are read
    try:
        data, size = _read_capped(fd, limit)
    finally:
        os.close(fd)
    if size > limit:
        findings.append(Finding(rel, None, f"file is {_size(size)}, over the {mb:g} MB limit for one definition file",
                                f"split it into several migrations, or raise the limit with {MAX_FILE_MB_ENV}=<MB>", rule="file-size"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        findings.append(Finding(rel, None, f"not UTF-8: {exc.reason}", "save the file as UTF-8", rule="encoding"))
        return None
    if text.startswith(BOM):
        findings.append(Finding(rel, 1, "starts with a UTF-8 byte order mark (ignored)",
                                "save the file as UTF-8 without a BOM", severity="warning", rule="encoding"))
        text = text[1:]
    return text


def read_sql(path: str | Path, rel: str, findings: list[Finding], required: bool,
             analyses: Analyses | None = None) -> SqlScript | None:
    """An SQL file parsed (or its analysis taken from the shipped index), None with an error finding."""
    try:
        text = read_definition(path, rel, findings)
    except FileNotFoundError:
        if required:
            findings.append(Finding(rel, None, f"missing {os.path.basename(path)}", f"create {rel}", rule="missing-file"))
        return None
    if text is None:
        return None
    try:
        return analyses.script(path, rel, text) if analyses else parse_script(rel, text)
    except SqlSyntaxError as exc:
        findings.append(
            Finding(rel, exc.line, f"unparsable SQL: {exc.message}", "fix the statement so PostgreSQL can parse it", rule="sql-syntax")
        )
        return None


def read_yaml(path: str | Path, rel: str, findings: list[Finding], analyses: Analyses | None = None) -> YamlDoc | None:
    """A definition YAML file, or None with an error finding (`read_definition`, then its YAML)."""
    text = read_definition(path, rel, findings)
    if text is None:
        return None
    try:
        return analyses.yaml(path, text) if analyses else load_yaml(text)
    except YamlError as exc:
        findings.append(Finding(rel, exc.line, exc.message, exc.hint or "fix the YAML syntax", rule="yaml-syntax"))
        return None


def _check_metadata(doc: YamlDoc, rel: str, findings: list[Finding]) -> dict | None:
    data = doc.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        findings.append(Finding(rel, 1, "metadata must be a mapping of keys to values", "write `name: ...` and `parents: [...]`", rule="metadata-type"))
        return None
    ok = True
    for key, value in data.items():
        if key not in METADATA_KEYS:
            known = ", ".join(METADATA_KEYS)
            findings.append(Finding(rel, doc.line(key), f"unknown key {key!r}", f"known keys: {known}", rule="metadata-key"))
            ok = False
            continue
        want = METADATA_KEYS[key]
        if value is None and want is list:
            continue
        if not isinstance(value, want) or (want is not bool and isinstance(value, bool)):
            findings.append(
                Finding(rel, doc.line(key), f"{key} must be a {want.__name__}, not {type(value).__name__}", f"e.g. {_example(key)}", rule="metadata-type")
            )
            ok = False
            continue
        if want is list:
            for i, item in enumerate(value):
                if not isinstance(item, int) or isinstance(item, bool) or item <= 0:
                    findings.append(
                        Finding(rel, doc.line(key, i), f"{key} must list positive integer migration ids, found {item!r}", f"e.g. {_example(key)}", rule="metadata-type")
                    )
                    ok = False
    if "parents" not in data and ok:
        findings.append(Finding(rel, 1, "missing key 'parents'", "add `parents: []` for a root or `parents: [<id>]`", rule="metadata-key"))
        ok = False
    if isinstance(data.get("waivers"), dict):
        for rule, reason in data["waivers"].items():
            if not isinstance(reason, str) or not reason.strip():
                findings.append(Finding(rel, doc.line("waivers", rule), f"waiver for {rule!r} needs a reason", f"write `{rule}: <why this is safe>`", rule="metadata-type"))
                ok = False
    return data if ok else None


def _example(key: str) -> str:
    return {
        "name": "name: add repo stars",
        "parents": "parents: [1528395700]",
        "replaces": "replaces: [1528395700, 1528395701]",
        "waivers": "waivers: {add-constraint-valid: table is tiny}",
    }.get(key, f"{key}: true")


def load_migration(schema: str, path: Path, root: Path, findings: list[Finding],
                   analyses: Analyses | None = None) -> Migration | None:
    rel = relative_path(path, root)
    m = MIGRATION_DIR.match(path.name)
    if not m or int(m.group(1)) <= 0:
        findings.append(
            Finding(rel, None, f"{path.name!r} is not a migration folder name", "name it <positive id>_<slug>, e.g. 1528395700_add_repo_stars", rule="folder-name")
        )
        return None
    mid, slug = int(m.group(1)), m.group(2)
    base = str(path)  # the files' paths as strings: pathlib's joins cost more than the small files' reads
    meta_rel = f"{rel}/metadata.yaml"
    try:
        doc = read_yaml(f"{base}/metadata.yaml", meta_rel, findings, analyses)
    except FileNotFoundError:
        findings.append(Finding(meta_rel, None, "missing metadata.yaml", "add metadata.yaml with `name:` and `parents:`", rule="missing-file"))
        return None
    if doc is None:
        return None
    data = _check_metadata(doc, meta_rel, findings)
    up = read_sql(f"{base}/up.sql", f"{rel}/up.sql", findings, True, analyses)
    down = read_sql(f"{base}/down.sql", f"{rel}/down.sql", findings, True, analyses)
    if data is None or up is None or down is None:
        return None
    lines = {k: doc.line(k) for k in data}
    return Migration(
        schema=schema,
        id=mid,
        slug=slug,
        name=data.get("name") or slug.replace("_", " "),
        parents=tuple(data.get("parents") or ()),
        up=up,
        down=down,
        path=rel,
        privileged=bool(data.get("privileged", False)),
        non_idempotent=bool(data.get("nonIdempotent", False)),
        create_index_concurrently=bool(data.get("createIndexConcurrently", False)),
        replaces=tuple(data.get("replaces") or ()),
        waivers=MappingProxyType(dict(data.get("waivers") or {})),
        metadata_lines=MappingProxyType(lines),
    )


def is_schema_dir(path: Path) -> bool:
    """A schema folder holds migration folders; other folders (demo data, docs) are not graphs."""
    if not path.is_dir() or path.name.startswith((".", "_")) or path.name == OUT_OF_BAND_DIR:
        return False
    return any(p.is_dir() and LOOSE_MIGRATION_DIR.match(p.name) for p in path.iterdir())


def load_schema(path: Path, root: Path, findings: list[Finding], analyses: Analyses | None = None) -> LoadedSchema:
    migrations: dict[int, Migration] = {}
    seen: dict[int, str] = {}
    broken: set[int] = set()
    with os.scandir(path) as it:  # the entries' types without a stat each, sorted by name (as Paths sort)
        names = sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())
    for entry in (path / name for name in names):
        m = MIGRATION_DIR.match(entry.name)
        if m and int(m.group(1)) in seen:
            findings.append(
                Finding(
                    relative_path(entry, root),
                    None,
                    f"duplicate migration id {int(m.group(1))} (also {seen[int(m.group(1))]})",
                    "give one of them a new, unused id",
                    rule="duplicate-id",
                )
            )
            continue
        if m:
            seen[int(m.group(1))] = relative_path(entry, root)
        migration = load_migration(path.name, entry, root, findings, analyses)
        if migration is not None:
            migrations[migration.id] = migration
        elif (loose := LOOSE_MIGRATION_DIR.match(entry.name)) and int(loose.group(1)) > 0:
            broken.add(int(loose.group(1)))
    return LoadedSchema(path.name, str(path), MappingProxyType(migrations), frozenset(broken - set(migrations)))
