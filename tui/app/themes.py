"""Themes are data: YAML files in the bundled `themes/` and in the user's config dir (docs/design.md §13)."""
from __future__ import annotations

import dataclasses
from importlib.resources import files
from pathlib import Path
from typing import Mapping

import yaml
from platformdirs import user_config_dir
from textual.color import Color, ColorParseError
from textual.theme import Theme

from pgferry.engine.errors import UsageError

DEFAULT = "pgferry-dark"
NO_COLOR_THEME = "pgferry-mono"
_FIELDS = {f.name for f in dataclasses.fields(Theme)}
_COLOURS = {"primary", "secondary", "warning", "error", "success", "accent", "foreground", "background",
            "surface", "panel", "boost"}


class ThemeFileError(UsageError):
    """A theme file that cannot be used: bad input, so exit 2 wherever it reaches the command line."""


def bundled_dir() -> Path:
    return Path(str(files("pgferry.themes")))


def user_dir() -> Path:
    return Path(user_config_dir("pgferry")) / "themes"


def theme_from_mapping(data: Mapping, source: str) -> Theme:
    if not isinstance(data, Mapping):
        raise ThemeFileError(f"{source}: expected a mapping of Theme fields")
    unknown = set(data) - _FIELDS
    if unknown:
        raise ThemeFileError(f"{source}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    if not data.get("name") or not data.get("primary"):
        raise ThemeFileError(f"{source}: 'name' and 'primary' are required")
    for key in _COLOURS & set(data):
        try:
            Color.parse(data[key])
        except ColorParseError:
            raise ThemeFileError(f"{source}: {key}: not a colour: {data[key]!r}") from None
    return Theme(**data)


def load_file(path: Path) -> Theme:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ThemeFileError(f"{path.name}: {exc}") from None
    return theme_from_mapping(data, path.name)


def load_all(dirs: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Bundled themes, then the user's (a user file may replace a bundled one). Returns (themes, problems)."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for d in dirs if dirs is not None else [bundled_dir(), user_dir()]:
        for path in sorted(d.glob("*.yaml")) if d.is_dir() else []:
            try:
                theme = load_file(path)
            except ThemeFileError as exc:
                problems.append(str(exc))
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems


def config_path() -> Path:
    return Path(user_config_dir("pgferry")) / "config.yaml"


def configured_theme(path: Path | None = None) -> str | None:
    """`theme: NAME` in ~/.config/pgferry/config.yaml; a broken file is ignored, not fatal to the UI."""
    path = path or config_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    theme = data.get("theme") if isinstance(data, Mapping) else None
    return theme if isinstance(theme, str) and theme else None


def choose(requested: str | None, no_color: bool, configured: str | None = None) -> str:
    """--theme wins; then NO_COLOR (monochrome: the user asked for no colour, whatever the config
    says); then the config file's theme; else the dark default."""
    if requested:
        return requested
    if no_color:
        return NO_COLOR_THEME
    return configured or DEFAULT
