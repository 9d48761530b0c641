"""A fleet's inventory (issue 18): the instances of one product, their rings and how to reach them.

A YAML file, checked like the definitions: every problem is one finding with the file, the line and
the fix, and any finding stops the command (exit 2) before a database is touched. A DSN may name
environment variables (`${VAR}`) and a libpq passfile, so the file itself never needs a password;
one written into it is refused, since inventories end up in repositories and tickets.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from psycopg import conninfo as ci

from ..connection import dsn_problem, mask_dsn
from ..definitions.yamlfile import YamlDoc, YamlError, load_yaml
from ..errors import Finding, InventoryError, UsageError

TOP_KEYS = ("name", "coordinator", "passfile", "rings", "defaults", "instances")
INSTANCE_KEYS = ("name", "ring", "dsn", "schemas", "labels", "paused", "superuser_dsn_env", "passfile")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
VARIABLE = re.compile(r"\$\{([^}]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Defaults:
    max_parallel: int = 4
    halt_after_failures: int = 1
    bake_minutes: float = 10.0


# What each default must be: (type check, lowest value, how to say it).
DEFAULT_RULES = {
    "max_parallel": (int, 1, "a whole number of instances upgraded at once, 1 or more"),
    "halt_after_failures": (int, 1, "a whole number of failed instances that stops the fleet, 1 or more"),
    "bake_minutes": ((int, float), 0, "minutes to wait after a ring before the next one, 0 or more"),
}


@dataclass(frozen=True)
class Instance:
    name: str
    ring: str
    dsn: str | None  # one database for every schema ...
    schemas: Mapping[str, str] | None  # ... or one per schema
    labels: Mapping[str, str] = field(default_factory=dict)
    paused: str | None = None  # why it is frozen; None: not paused
    superuser_dsn_env: str | None = None
    line: int = 1

    def dsns(self, schemas) -> dict[str, str]:
        """Each of the product's schemas' connection (checked by `Inventory.check_schemas`)."""
        return {s: self.schemas[s] for s in schemas} if self.schemas else {s: self.dsn for s in schemas}

    def superuser_dsn(self) -> str | None:
        """The privileged steps' connection, read from the environment variable the inventory names."""
        return os.environ.get(self.superuser_dsn_env) or None if self.superuser_dsn_env else None

    def secrets(self) -> list[str]:
        return [d for d in [self.dsn, *(self.schemas or {}).values(), self.superuser_dsn()] if d]

    def matches(self, selectors: Mapping[str, str]) -> bool:
        return all(self.labels.get(k) == v for k, v in selectors.items())


@dataclass(frozen=True)
class Inventory:
    path: str
    name: str
    coordinator: str | None
    rings: tuple[str, ...]
    defaults: Defaults
    instances: tuple[Instance, ...]

    def select(self, ring: str | None = None, selectors: Mapping[str, str] | None = None) -> list[Instance]:
        """The instances of `ring` (all rings without one) whose labels match every selector, in ring order."""
        if ring is not None and ring not in self.rings:
            raise UsageError(f"--ring {ring!r} is not a ring of {self.path}", hint=f"its rings: {', '.join(self.rings)}")
        chosen = [i for i in self.instances if (ring is None or i.ring == ring) and i.matches(selectors or {})]
        return sorted(chosen, key=lambda i: self.rings.index(i.ring))

    def check_schemas(self, schemas) -> None:
        """Every instance with one DSN per schema names exactly the product's schemas (exit 2)."""
        findings = []
        for i in self.instances:
            if not i.schemas:
                continue
            missing, unknown = [s for s in schemas if s not in i.schemas], [s for s in i.schemas if s not in schemas]
            if missing or unknown:
                said = "; ".join(filter(None, [missing and f"lacks {', '.join(missing)}",
                                               unknown and f"names unknown {', '.join(unknown)}"]))
                findings.append(Finding(self.path, i.line, f"instance {i.name}: schemas {said}",
                                        f"give one DSN for each of the product's schemas: {', '.join(schemas)}"))
        if findings:
            raise InventoryError(findings)

    def instance(self, name: str) -> Instance:
        for i in self.instances:
            if i.name == name:
                return i
        raise UsageError(f"no instance {name!r} in {self.path}", hint="--instance takes a name the inventory lists")


def parse_selectors(items) -> dict[str, str]:
    """--select label=value items, all of which an instance must match."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--select expects LABEL=VALUE, got {item!r}")
        out[key] = value
    return out


def load_inventory(path: str | Path) -> Inventory:
    """The inventory at `path`, or InventoryError (exit 2) with every problem found."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the inventory {path}: {exc.strerror or exc}",
                         hint="--inventory names a YAML file listing the fleet's instances") from None
    try:
        doc = load_yaml(text)
    except YamlError as exc:
        raise InventoryError([Finding(path, exc.line, exc.message, exc.hint)]) from None
    reader = _Reader(path, doc)
    inventory = reader.read()
    if reader.findings:
        raise InventoryError(reader.findings)
    return inventory


class _Reader:
    """Reads a parsed inventory, collecting a finding for each problem instead of stopping at the first."""

    def __init__(self, path: str, doc: YamlDoc):
        self.path, self.doc = path, doc
        self.findings: list[Finding] = []

    def bad(self, where: tuple, message: str, fix: str) -> None:
        self.findings.append(Finding(self.path, self.doc.line(*where), message, fix))

    def read(self) -> Inventory | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.bad((), "an inventory is a mapping with rings and instances",
                     "start from the example in docs/guides/fleet.md")
            return None
        for key in data:
            if key not in TOP_KEYS:
                self.bad((key,), f"unknown key {key!r}", f"known keys: {', '.join(TOP_KEYS)}")
        rings = self.rings(data.get("rings"))
        defaults = self.defaults(data.get("defaults"))
        passfile = self.passfile(data.get("passfile"), ("passfile",))
        coordinator = None
        if data.get("coordinator") is not None:
            coordinator = self.dsn(data["coordinator"], ("coordinator",), "the coordinator", passfile)
        instances = self.instances(data.get("instances"), rings, passfile)
        name = data.get("name", Path(self.path).stem)
        if not isinstance(name, str) or not NAME.fullmatch(name):
            self.bad(("name",), f"the fleet's name {name!r} is not a name", "letters, digits, '.', '_' and '-'")
        return Inventory(self.path, str(name), coordinator, rings, defaults, instances)

    def rings(self, value) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(r, str) and r for r in value):
            self.bad(("rings",), "rings must list the ring names in order", "e.g. rings: [canary, early, general]")
            return ()
        for n, ring in enumerate(value):
            if value.index(ring) != n:
                self.bad(("rings", n), f"ring {ring!r} is listed twice", "list each ring once, in upgrade order")
        return tuple(dict.fromkeys(value))

    def defaults(self, value) -> Defaults:
        if value is None:
            return Defaults()
        if not isinstance(value, dict):
            self.bad(("defaults",), "defaults must be a mapping", "e.g. defaults: {max_parallel: 4, bake_minutes: 10}")
            return Defaults()
        good = {}
        for key, v in value.items():
            rule = DEFAULT_RULES.get(key)
            if rule is None:
                self.bad(("defaults", key), f"unknown default {key!r}", f"known: {', '.join(DEFAULT_RULES)}")
            elif isinstance(v, bool) or not isinstance(v, rule[0]) or v < rule[1]:
                self.bad(("defaults", key), f"defaults.{key} is {v!r}", f"{key} is {rule[2]}")
            else:
                good[key] = v
        return Defaults(**good)

    def instances(self, value, rings: tuple[str, ...], passfile: str | None) -> tuple[Instance, ...]:
        if not isinstance(value, list) or not value:
            self.bad(("instances",), "instances must list the fleet's instances", "e.g. instances: [{name: a, ring: canary, dsn: ...}]")
            return ()
        out: list[Instance] = []
        seen: dict[str, int] = {}
        for n, item in enumerate(value):
            instance = self.instance(item, ("instances", n), rings, passfile)
            if instance is None:
                continue
            if instance.name in seen:
                self.bad(("instances", n, "name"), f"duplicate instance name {instance.name!r} (also on line {seen[instance.name]})",
                         "give each instance its own name")
                continue
            seen[instance.name] = self.doc.line("instances", n, "name")
            out.append(instance)
        return tuple(out)

    def instance(self, item, at: tuple, rings: tuple[str, ...], passfile: str | None) -> Instance | None:
        if not isinstance(item, dict):
            self.bad(at, "each instance is a mapping", "e.g. - {name: acme-eu-1, ring: canary, dsn: ...}")
            return None
        for key in item:
            if key not in INSTANCE_KEYS:
                self.bad(at + (key,), f"unknown instance key {key!r}", f"known keys: {', '.join(INSTANCE_KEYS)}")
        name = item.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            self.bad(at + ("name",), f"instance name {name!r} is missing or not a name",
                     "name: letters, digits, '.', '_' and '-', starting with a letter or digit")
            return None
        ring = item.get("ring")
        if ring is None:
            self.bad(at, f"instance {name}: no ring", f"ring: one of {', '.join(rings) or 'the top-level rings'}")
        elif ring not in rings and rings:
            self.bad(at + ("ring",), f"instance {name}: unknown ring {ring!r}", f"rings: {', '.join(rings)} (the top-level rings list)")
        passfile = self.passfile(item.get("passfile"), at + ("passfile",)) or passfile
        dsn, schemas = self.connections(item, at, name, passfile)
        return Instance(name, str(ring), dsn, schemas, self.labels(item.get("labels"), at, name),
                        self.paused(item.get("paused"), at, name), self.env_name(item.get("superuser_dsn_env"), at, name),
                        self.doc.line(*at))

    def connections(self, item: dict, at: tuple, name: str, passfile: str | None):
        if ("dsn" in item) == ("schemas" in item):
            self.bad(at, f"instance {name}: {'both dsn and schemas' if 'dsn' in item else 'no dsn'}",
                     "give dsn: (one database) or schemas: {schema: dsn, ...} (one per schema)")
            return None, None
        if "dsn" in item:
            return self.dsn(item["dsn"], at + ("dsn",), f"instance {name}", passfile), None
        value = item["schemas"]
        if not isinstance(value, dict) or not value:
            self.bad(at + ("schemas",), f"instance {name}: schemas must map each schema to a DSN",
                     "e.g. schemas: {frontend: postgresql://..., codeintel: postgresql://...}")
            return None, None
        return None, {str(k): self.dsn(v, at + ("schemas", k), f"instance {name} schema {k}", passfile) for k, v in value.items()}

    def dsn(self, value, where: tuple, what: str, passfile: str | None) -> str:
        if not isinstance(value, str) or not value.strip():
            self.bad(where, f"{what}: the DSN is missing or empty", "a libpq connection string, e.g. postgresql://app@db1/product")
            return ""
        if _password(value):
            self.bad(where, f"{what}: the DSN holds a password ({mask_dsn(value)})",
                     "write ${VARIABLE} in its place and set the variable, or use a passfile (passfile: PATH)")
            return ""
        missing = [v for v in VARIABLE.findall(value) if not ENV_NAME.fullmatch(v) or v not in os.environ]
        if missing:
            self.bad(where, f"{what}: the DSN names ${{{missing[0]}}}, which is not set",
                     f"export {missing[0]} before running pgferry, or write the value in place")
            return ""
        dsn = VARIABLE.sub(lambda m: os.environ[m[1]], value)
        problem = dsn_problem(dsn)
        if problem:
            self.bad(where, f"{what}: {problem}", "use postgresql://user@host:port/db or key=value pairs")
            return ""
        return ci.make_conninfo(dsn, passfile=passfile) if passfile else dsn

    def passfile(self, value, where: tuple) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.bad(where, "passfile must be a path", "e.g. passfile: ~/.pgpass (libpq's password file)")
            return None
        return os.path.expanduser(value)

    def labels(self, value, at: tuple, name: str) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, (str, int, float, bool)) for v in value.values()):
            self.bad(at + ("labels",), f"instance {name}: labels must map names to plain values", "e.g. labels: {region: eu, tier: paid}")
            return {}
        return {str(k): str(v) for k, v in value.items()}

    def paused(self, value, at: tuple, name: str) -> str | None:
        if value is None or value is False:
            return None
        if value is True:
            return "paused in the inventory"
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.bad(at + ("paused",), f"instance {name}: paused is {value!r}", "paused: true, false, or the reason as text")
        return None

    def env_name(self, value, at: tuple, name: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
            self.bad(at + ("superuser_dsn_env",), f"instance {name}: superuser_dsn_env is {value!r}",
                     "the name of an environment variable holding the superuser DSN, e.g. ACME_EU_1_SU")
            return None
        return value


def _password(dsn: str) -> bool:
    """Does the DSN as written (before ${VAR} expansion) carry a literal password?"""
    written = VARIABLE.sub("", dsn)
    if "://" in written:
        userinfo = written.split("://", 1)[1].split("/", 1)[0].rpartition("@")[0]
        query = written.partition("?")[2]
        return bool(userinfo.partition(":")[2]) or bool(re.search(r"(^|&)password=[^&]", query))
    return bool(re.search(r"\bpassword\s*=\s*(?!'')(\S)", dsn) and not re.search(r"\bpassword\s*=\s*\$\{", dsn))
