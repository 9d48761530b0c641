"""The release catalogue (releases.yaml, docs/design.md §4) and deriving a database's version."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import Finding
from .yamlfile import YamlDoc

STABLE = "stable"


@dataclass(frozen=True)
class Release:
    version: str
    leaves: Mapping[str, tuple[int, ...]]
    notes: str = ""
    postgres: str | None = None
    pulled: str | None = None
    channel: str = STABLE
    line: int = 1

    @property
    def key(self) -> Version:
        return Version(self.version)

    def supports_server(self, server_version: str) -> bool:
        if not self.postgres:
            return True
        return Version(server_version) in SpecifierSet(self.postgres)

    def __repr__(self) -> str:
        return f"Release({self.version})"


@dataclass(frozen=True)
class ReleaseCatalogue:
    releases: tuple[Release, ...] = ()
    path: str = "releases.yaml"

    def find(self, version: str) -> Release | None:
        for r in self.releases:
            if r.version == version or r.version.lstrip("v") == version.lstrip("v"):
                return r
        try:
            want = Version(version)
        except InvalidVersion:
            return None
        return next((r for r in self.releases if r.key == want), None)

    def latest(self, channel: str = STABLE) -> Release | None:
        offered = [r for r in self.releases if not r.pulled and (r.channel == STABLE or r.channel == channel)]
        return offered[-1] if offered else None

    def index(self, release: Release) -> int:
        return self.releases.index(release)


@dataclass
class ParsedReleases:
    catalogue: ReleaseCatalogue
    findings: list[Finding] = field(default_factory=list)


def parse_releases(doc: YamlDoc, rel: str) -> ParsedReleases:
    findings: list[Finding] = []
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("releases"), list):
        findings.append(Finding(rel, doc.line("releases"), "expected a top-level `releases:` list", "see DESIGN §4 for the format", rule="releases-format"))
        return ParsedReleases(ReleaseCatalogue(path=rel), findings)
    out: list[Release] = []
    seen: set[str] = set()
    previous: Version | None = None
    for i, item in enumerate(data["releases"]):
        line = doc.line("releases", i)
        if not isinstance(item, dict):
            findings.append(Finding(rel, line, "each release must be a mapping", "write `- version: 3.20.0` and `leaves: {...}`", rule="releases-format"))
            continue
        unknown = set(item) - {"version", "leaves", "notes", "postgres", "pulled", "channel"}
        for key in sorted(unknown, key=str):
            findings.append(Finding(rel, doc.line("releases", i, key), f"unknown release key {key!r}", "known keys: version, leaves, notes, postgres, pulled, channel", rule="releases-format"))
        if isinstance(item.get("version"), float):
            # YAML reads `3.10` as the number 3.1: the release would silently change its version.
            findings.append(Finding(rel, doc.line("releases", i, "version"), f"version {item['version']!r} is a number, not a version string",
                                    'quote it, e.g. version: "3.10.0"', rule="releases-format"))
            continue
        version = str(item.get("version", "")).strip()
        try:
            parsed = Version(version)
        except InvalidVersion:
            findings.append(Finding(rel, doc.line("releases", i, "version"), f"invalid version {version!r}", "use a version such as 3.20.0", rule="releases-format"))
            continue
        if version in seen:
            findings.append(Finding(rel, line, f"release {version} listed twice", "remove the duplicate", rule="releases-format"))
            continue
        if previous is not None and parsed <= previous:
            findings.append(Finding(rel, line, f"release {version} is not newer than the one before it", "list releases oldest first", rule="releases-order"))
        previous = parsed
        seen.add(version)
        leaves_raw = item.get("leaves") or {}
        leaves: dict[str, tuple[int, ...]] = {}
        if not isinstance(leaves_raw, dict):
            findings.append(Finding(rel, doc.line("releases", i, "leaves"), "leaves must map schema names to lists of ids", "e.g. leaves: {frontend: [1528395700]}", rule="releases-format"))
            continue
        bad = False
        for schema, ids in leaves_raw.items():
            ids = [ids] if isinstance(ids, int) and not isinstance(ids, bool) else ids
            if not isinstance(ids, list) or not ids or not all(isinstance(x, int) and not isinstance(x, bool) for x in ids):
                findings.append(Finding(rel, doc.line("releases", i, "leaves", schema), f"leaves of {schema} must be a non-empty list of migration ids", "e.g. frontend: [1528395700]", rule="releases-format"))
                bad = True
                continue
            leaves[str(schema)] = tuple(ids)
        postgres = item.get("postgres")
        if postgres is not None:
            try:
                SpecifierSet(str(postgres))
            except InvalidSpecifier:
                findings.append(Finding(rel, doc.line("releases", i, "postgres"), f"invalid postgres range {postgres!r}", 'write e.g. postgres: ">=12,<17"', rule="releases-format"))
                postgres = None
        if bad:
            continue
        out.append(
            Release(
                version=version,
                leaves=leaves,
                notes=str(item.get("notes") or ""),
                postgres=str(postgres) if postgres is not None else None,
                pulled=str(item["pulled"]) if item.get("pulled") else None,
                channel=str(item.get("channel") or STABLE),
                line=line,
            )
        )
    return ParsedReleases(ReleaseCatalogue(tuple(out), rel), findings)
