"""The release catalogue (releases.yaml, docs/design.md §4) and deriving a database's version."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import Finding
from .yamlfile import YamlDoc

STABLE = "stable"
KEYS = ("version", "leaves", "notes", "postgres", "pulled", "channel", "compatible_with")


@dataclass(frozen=True)
class Release:
    version: str
    leaves: Mapping[str, tuple[int, ...]]
    notes: str = ""
    postgres: str | None = None
    pulled: str | None = None
    channel: str = STABLE
    line: int = 1
    # The older application releases this release's schema still serves (a version range); None: only itself.
    compatible_with: str | None = None

    @property
    def key(self) -> Version:
        return Version(self.version)

    def supports_server(self, server_version: str) -> bool:
        if not self.postgres:
            return True
        return Version(server_version) in SpecifierSet(self.postgres)

    def serves(self, application: Release) -> bool:
        """Can the application of release `application` run on this release's schema?"""
        if application.key == self.key:
            return True
        # The range speaks of schema compatibility, not of what to offer: a pre-release inside it counts.
        return self.compatible_with is not None and SpecifierSet(self.compatible_with).contains(application.key, prereleases=True)

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

    def not_serving(self, application: Release, newest: Release) -> tuple[Release, ...]:
        """The releases after `application`, up to `newest`, whose schema does not serve it."""
        later = self.releases[self.index(application) + 1: self.index(newest) + 1]
        return tuple(r for r in later if not r.serves(application))


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
        unknown = set(item) - set(KEYS)
        for key in sorted(unknown, key=str):
            findings.append(Finding(rel, doc.line("releases", i, key), f"unknown release key {key!r}", f"known keys: {', '.join(KEYS)}", rule="releases-format"))
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
        postgres = _version_range(doc, rel, i, "postgres", '">=12,<17"', findings)
        compatible_with = _version_range(doc, rel, i, "compatible_with", '">=4.1.0" (the older releases it serves)',
                                         findings, blank_means_any=False)
        if bad:
            continue
        release = Release(
            version=version,
            leaves=leaves,
            notes=str(item.get("notes") or ""),
            postgres=postgres,
            pulled=str(item["pulled"]) if item.get("pulled") else None,
            channel=str(item.get("channel") or STABLE),
            line=line,
            compatible_with=compatible_with,
        )
        if compatible_with is not None and not any(release.serves(older) for older in out):
            # Most likely a typo (">=4.10.0" for 4.1.0): the key would change nothing.
            findings.append(Finding(rel, doc.line("releases", i, "compatible_with"),
                                    f"compatible_with of {version} admits no older release listed",
                                    "name the older releases its schema serves, or remove the key (a release serves only itself)",
                                    "warning", "releases-compatible"))
        out.append(release)
    return ParsedReleases(ReleaseCatalogue(tuple(out), rel), findings)


def _version_range(doc: YamlDoc, rel: str, i: int, key: str, example: str, findings: list[Finding],
                   blank_means_any: bool = True) -> str | None:
    """Release i's `key`, a version range such as ">=13,<19"; None when absent or invalid (a finding says which)."""
    value = doc.data["releases"][i].get(key)
    if value is None:
        return None
    # A bare 4.1 is a YAML number, not a range; a blank range admits every version.
    if not (isinstance(value, str) and _is_range(value) and (blank_means_any or value.strip())):
        findings.append(Finding(rel, doc.line("releases", i, key), f"invalid {key} range {value!r}",
                                f"write a quoted version range, e.g. {key}: {example}", rule="releases-format"))
        return None
    return value


def _is_range(text: str) -> bool:
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return False
    return True
