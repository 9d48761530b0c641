"""YAML loading that remembers which line each key came from, so errors can name it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import yaml

# PyYAML is imported on the first file read, not with this module: the definitions cache
# (defcache) spares the commands that read no file the import.


class YamlError(Exception):
    def __init__(self, line: int, message: str, hint: str | None = None):
        super().__init__(message)
        self.line = line
        self.message = message
        self.hint = hint


@dataclass
class YamlDoc:
    data: object
    lines: dict[tuple, int] = field(default_factory=dict)

    def line(self, *path) -> int:
        """Line of the deepest known prefix of `path` (1-based); 1 if nothing matches."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return 1


def _walk(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    import yaml

    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else None
            if path + (k,) in lines and k is not None:
                # PyYAML silently keeps the last of two equal keys; an author means one of them.
                raise YamlError(key.start_mark.line + 1, f"invalid YAML: duplicate key {k!r} (also on line {lines[path + (k,)]})")
            lines[path + (k,)] = key.start_mark.line + 1
            _walk(value, path + (k,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines)


def _loader(text: str):
    import yaml

    # libyaml's parser when PyYAML was built with it: several times faster on thousands of files.
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)


def _refuse_aliases(text: str) -> None:
    """Raise YamlError at the first alias (*name). An alias repeats a whole subtree, and aliases of
    aliases grow it exponentially (a "billion laughs" of a few lines eats gigabytes); definition
    files have no need for them. Only texts with a `*` are scanned: a second parse, events only."""
    if "*" not in text:
        return
    import yaml

    loader = _loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                raise YamlError(event.start_mark.line + 1, f"invalid YAML: alias *{event.anchor} (anchors and aliases are not allowed here)",
                                "write the value out in full where the alias stands")
    except yaml.YAMLError:
        return  # a syntax error: the real parse below reports it
    finally:
        loader.dispose()


def load_yaml(text: str) -> YamlDoc:
    import yaml

    _refuse_aliases(text)
    # One parse for both the node tree (lines) and the data: YAML parsing dominates loading.
    loader = _loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        message = f"invalid YAML: {exc.problem or exc}"
        lines = text.splitlines()
        if 0 < line <= len(lines) and "\t" in lines[line - 1] and "'\\t'" not in message:
            # libyaml does not say what the offending character is; a tab is the usual culprit.
            message += " ('\\t': a tab; YAML indents with spaces)"
        raise YamlError(line, message) from None
    except yaml.YAMLError as exc:
        raise YamlError(1, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[tuple, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return YamlDoc(data, lines)
