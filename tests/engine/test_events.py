"""One events module: whatever the engine hands to an event sink is an event of engine/events.py,
listed in its `Event` union, so a renderer matching on the union sees every kind."""
from __future__ import annotations

import ast
import dataclasses
import inspect
import typing

from pgferry.engine import events
from tests.support import ROOT

NOT_EVENTS = {"Collector"}  # a sink


def emitted_classes():
    """(where, class name) for every `<sink>(SomeClass(...))` in the engine: any call whose name
    ends in on_event or sink, passed a freshly built object."""
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Call)):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            built = node.args[0].func
            if func.endswith(("on_event", "sink")) and isinstance(built, ast.Name):
                yield f"{path.relative_to(ROOT)}:{node.lineno}", built.id


def test_every_emitted_event_is_in_the_union():
    union = {cls.__name__ for cls in typing.get_args(events.Event)}
    emitted = list(emitted_classes())
    assert len(emitted) > 20  # the scan finds the runner's, the background runner's, the upgrade's
    missing = [f"{where}: {name}" for where, name in emitted if name not in union]
    assert missing == [], "emitted but not an engine.events.Event:\n" + "\n".join(missing)


def test_every_dataclass_of_the_events_module_is_in_the_union():
    defined = {name for name, obj in inspect.getmembers(events, inspect.isclass)
               if dataclasses.is_dataclass(obj) and obj.__module__ == events.__name__}
    assert defined - NOT_EVENTS == {cls.__name__ for cls in typing.get_args(events.Event)}
