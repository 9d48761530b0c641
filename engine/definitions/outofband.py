"""Out-of-band (background) data migrations on disk (docs/design.md §5).

A folder `out-of-band/<id>_<slug>/` holds metadata.yaml, progress.sql (one row, one number in
[0, 1]), up.sql (one batch forward; may use the %(batch_size)s placeholder) and down.sql
(one batch backward; may be absent when the migration is nonDestructive).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..errors import Finding
from .definitions import MIGRATION_DIR, Analyses, OUT_OF_BAND_DIR, read_sql, relative_path, read_definition, read_yaml
from .sqlfile import SqlScript, SqlSyntaxError, parse_script

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
KEYS = {"description": str, "schema": str, "introduced": str, "deprecated": str, "nonDestructive": bool,
        "batchSize": int, "targetBatchSeconds": (int, float)}


@dataclass(frozen=True)
class OutOfBand:
    id: int
    slug: str
    description: str
    schema: str
    introduced: str
    deprecated: str | None
    non_destructive: bool
    batch_size: int
    progress: SqlScript
    up: SqlScript
    down: SqlScript | None
    path: str
    target_batch_seconds: float = 0.5

    @property
    def metadata_path(self) -> str:
        return str(Path(self.path) / "metadata.yaml")

    def lifetime(self) -> str:
        return f"[{self.introduced}, {self.deprecated or '∞'})"

    def __repr__(self) -> str:
        return f"OutOfBand({self.id})"


def _read_batch_sql(path: Path, rel: str, findings: list[Finding], required: bool,
                    analyses: Analyses | None) -> SqlScript | None:
    """Batch SQL carries %(batch_size)s, which PostgreSQL's parser cannot read: parse a copy
    with the placeholder filled in, keep the original text for running."""
    if not path.exists():
        if required:
            findings.append(Finding(rel, None, f"missing {path.name}", f"create {rel}", rule="missing-file"))
        return None
    text = read_definition(path, rel, findings)
    if text is None:
        return None
    # Same length, so offsets and lines stay right.
    parsable = PLACEHOLDER.sub(lambda m: "1".ljust(len(m.group(0))), text).replace("%%", "% ")
    try:
        script = analyses.script(path, rel, parsable) if analyses else parse_script(rel, parsable)
    except SqlSyntaxError as exc:
        findings.append(Finding(rel, exc.line, f"unparsable SQL: {exc.message}", "fix the statement so PostgreSQL can parse it",
                                rule="sql-syntax"))
        return None
    return replace(script, text=text)


def _check_batch_sql(script: SqlScript | None, findings: list[Finding]) -> None:
    if script is None:
        return
    if len(script.statements) != 1:
        findings.append(Finding(script.path, script.statements[1].line if len(script.statements) > 1 else None,
                                f"a batch must be exactly one statement (found {len(script.statements)})",
                                "write one UPDATE/INSERT/DELETE that handles %(batch_size)s rows", rule="oob-batch"))
    for st in script.statements:
        if st.transaction_control:
            findings.append(Finding(script.path, st.line, "explicit transaction control in an out-of-band batch",
                                    "remove it: each batch runs in its own short transaction", rule="transaction-control"))
        if st.privileged:
            findings.append(Finding(script.path, st.line, f"privileged statement ({st.privilege}) in an out-of-band batch",
                                    "out-of-band migrations rewrite data only", rule="privileged-unmarked"))
        if st.non_transactional:
            findings.append(Finding(script.path, st.line, f"{st.non_transactional} cannot run in a batch transaction",
                                    "remove it", rule="non-transactional"))
    for name in set(PLACEHOLDER.findall(script.text)) - {"batch_size"}:
        findings.append(Finding(script.path, None, f"unknown placeholder %({name})s",
                                "only %(batch_size)s is filled in", rule="oob-placeholder"))
    stray = PLACEHOLDER.sub("", script.text).replace("%%", "")
    if "%" in stray:
        line = script.text[: script.text.find("%")].count("\n") + 1
        findings.append(Finding(script.path, line, "a literal % must be written %% in out-of-band SQL",
                                "write %% (the batch SQL is run with the batch_size parameter)", rule="oob-placeholder"))


def load_out_of_band(root: Path, findings: list[Finding], analyses: Analyses | None = None) -> dict[int, OutOfBand]:
    base = root / OUT_OF_BAND_DIR
    out: dict[int, OutOfBand] = {}
    if not base.is_dir():
        return out
    for path in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        rel = relative_path(path, root)
        m = MIGRATION_DIR.match(path.name)
        if not m or int(m.group(1)) <= 0:
            findings.append(Finding(rel, None, f"{path.name!r} is not an out-of-band folder name",
                                    "name it <positive id>_<slug>", rule="folder-name"))
            continue
        oid = int(m.group(1))
        if oid in out:
            findings.append(Finding(rel, None, f"duplicate out-of-band id {oid}", "give one of them a new id", rule="duplicate-id"))
            continue
        meta = path / "metadata.yaml"
        meta_rel = relative_path(meta, root)
        if not meta.exists():
            findings.append(Finding(meta_rel, None, "missing metadata.yaml", "add description, schema, introduced", rule="missing-file"))
            continue
        doc = read_yaml(meta, meta_rel, findings, analyses)
        if doc is None:
            continue
        data = doc.data if isinstance(doc.data, dict) else None
        if data is None:
            findings.append(Finding(meta_rel, 1, "metadata must be a mapping", "write `description:`, `schema:`, `introduced:`", rule="metadata-type"))
            continue
        ok = True
        for key, value in data.items():
            want = KEYS.get(key)
            if want is None:
                findings.append(Finding(meta_rel, doc.line(key), f"unknown key {key!r}", f"known keys: {', '.join(KEYS)}", rule="metadata-key"))
                ok = False
            elif value is not None and (not isinstance(value, want) or (want is not bool and isinstance(value, bool))):
                if key in ("introduced", "deprecated") and isinstance(value, (int, float)):
                    value = data[key] = str(value)
                    continue
                findings.append(Finding(meta_rel, doc.line(key), f"{key} has the wrong type ({type(value).__name__})",
                                        "see DESIGN §5 for the keys", rule="metadata-type"))
                ok = False
        for key in ("description", "schema", "introduced"):
            if not data.get(key):
                findings.append(Finding(meta_rel, doc.line(key), f"missing key {key!r}", f"add `{key}:`", rule="metadata-key"))
                ok = False
        for key in ("introduced", "deprecated"):
            if data.get(key):
                try:
                    Version(str(data[key]))
                except InvalidVersion:
                    findings.append(Finding(meta_rel, doc.line(key), f"{key} is not a version: {data[key]!r}", "e.g. 3.25.0", rule="metadata-type"))
                    ok = False
        batch = data.get("batchSize", 1000)
        if isinstance(batch, int) and not isinstance(batch, bool) and batch <= 0:
            findings.append(Finding(meta_rel, doc.line("batchSize"), "batchSize must be positive", "e.g. batchSize: 1000", rule="metadata-type"))
            ok = False
        progress = read_sql(path / "progress.sql", relative_path(path / "progress.sql", root), findings, True, analyses)
        up = _read_batch_sql(path / "up.sql", relative_path(path / "up.sql", root), findings, True, analyses)
        non_destructive = bool(data.get("nonDestructive", False))
        down = _read_batch_sql(path / "down.sql", relative_path(path / "down.sql", root), findings, not non_destructive, analyses)
        if progress is not None and (len(progress.statements) != 1 or progress.statements[0].kind != "SelectStmt"):
            findings.append(Finding(progress.path, 1, "progress.sql must be one SELECT returning one number in [0, 1]",
                                    "e.g. SELECT count(*) FILTER (WHERE done)::float8 / greatest(count(*), 1) FROM t",
                                    rule="oob-progress"))
            ok = False
        for script in (up, down):
            _check_batch_sql(script, findings)
        if not ok or progress is None or up is None:
            continue
        out[oid] = OutOfBand(
            id=oid, slug=m.group(2), description=str(data["description"]), schema=str(data["schema"]),
            introduced=str(data["introduced"]), deprecated=str(data["deprecated"]) if data.get("deprecated") else None,
            non_destructive=non_destructive, batch_size=int(batch), progress=progress, up=up, down=down,
            path=str(path), target_batch_seconds=float(data.get("targetBatchSeconds", 0.5)),
        )
    return out


def check_out_of_band(oobs: dict[int, OutOfBand], schemas, catalogue) -> list[Finding]:
    """Lifetimes must name releases of the catalogue, in order, for a known schema."""
    findings: list[Finding] = []
    for o in oobs.values():
        if o.schema not in schemas:
            findings.append(Finding(o.metadata_path, None, f"unknown schema {o.schema!r}",
                                    f"known schemas: {', '.join(sorted(schemas))}", rule="oob-schema"))
        intro = catalogue.find(o.introduced)
        if intro is None:
            findings.append(Finding(o.metadata_path, None, f"introduced names unknown release {o.introduced}",
                                    "use a version listed in releases.yaml", rule="oob-lifetime"))
        if o.deprecated:
            dep = catalogue.find(o.deprecated)
            if dep is None:
                findings.append(Finding(o.metadata_path, None, f"deprecated names unknown release {o.deprecated}",
                                        "use a version listed in releases.yaml", rule="oob-lifetime"))
            elif intro is not None and dep.key <= intro.key:
                findings.append(Finding(o.metadata_path, None,
                                        f"lifetime inverted: deprecated {o.deprecated} is not after introduced {o.introduced}",
                                        "deprecate it in a release after the one that introduces it", rule="oob-lifetime"))
        if intro is not None and o.schema in schemas and o.schema not in intro.leaves:
            findings.append(Finding(o.metadata_path, None, f"schema {o.schema} does not exist yet in {o.introduced}",
                                    "introduce it in a release that has the schema", rule="oob-schema"))
    return findings
