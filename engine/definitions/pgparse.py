"""PostgreSQL's parser, fast: pglast ASTs built from libpg_query's JSON output.

`pglast.parse_sql` builds its AST through `Node.__setattr__`, which validates and coerces every
attribute in Python: about 0.55 ms for a five-statement migration, most of the cold start of a
1,000-migration `pgferry up` (profiled: 355,000 `__setattr__` calls for 2,000 files). The same
parser (libpg_query, in C) also prints its tree as JSON; `json.loads` of that and a plain walk that
sets the slots directly gives the identical tree (same classes, same values, same locations) in a
fraction of the time. The walk is driven by pglast's own slot declarations, so it covers every
node class pglast knows; anything it does not understand raises, and `parse` then falls back to
`pglast.parse_sql`, so the result is never a different tree, only sometimes a slower one.
tests/engine/test_pgparse.py checks that the two agree on every bundled migration and a corpus of DDL.
"""
from __future__ import annotations

import json

from pglast import ast, enums
from pglast import parse_sql as _slow_parse_sql
from pglast.parser import parse_sql_json

_NEW = object.__new__
_SET = object.__setattr__

# Scalars: libpg_query's JSON leaves out false booleans, zero numbers and NUL chars.
_NUMERIC = {"int", "int16", "int32", "uint32", "long", "Index", "AttrNumber", "Oid", "RelFileNumber",
            "SubTransactionId", "bits32", "AclMode", "Cardinality", "Cost", "double", "float", "int64", "uint64"}
_NODE_CLASSES = {name: cls for name, cls in vars(ast).items()
                 if isinstance(cls, type) and issubclass(cls, ast.Node) and isinstance(cls.__dict__.get("__slots__"), dict)}


class Unsupported(Exception):
    """The JSON holds something the walk does not know: use pglast.parse_sql instead."""


def _plan(cls: type) -> tuple:
    """(attribute, JSON key, kind, extra) for every slot of a node class, in declaration order."""
    out = []
    for attr, info in cls.__slots__.items():
        ctype = info.c_type
        key = attr[:-1] if attr.endswith("_") else attr
        if ctype == "bool":
            out.append((attr, key, "bool", None))
        elif ctype == "char*":
            out.append((attr, key, "str", None))
        elif ctype == "char":
            out.append((attr, key, "char", None))
        elif ctype == "ParseLoc":
            out.append((attr, key, "loc", None))
        elif ctype in _NUMERIC:
            out.append((attr, key, "num", None))
        elif ctype == "List*":
            out.append((attr, key, "list", None))
        elif ctype in ("Node*", "Expr*"):
            out.append((attr, key, "node", None))
        elif ctype == "Bitmapset*":
            out.append((attr, key, "set", None))
        elif ctype == "ValUnion":
            out.append((attr, key, "val", None))
        elif ctype.endswith("*") and ctype[:-1] in _NODE_CLASSES:
            out.append((attr, key, "typed", _NODE_CLASSES[ctype[:-1]]))
        elif ctype in _NODE_CLASSES:  # an embedded struct (CreateForeignTableStmt.base)
            out.append((attr, key, "typed", _NODE_CLASSES[ctype]))
        elif hasattr(enums, ctype):
            out.append((attr, key, "enum", getattr(enums, ctype)))
        else:
            out.append((attr, key, "unknown", ctype))
    return tuple(out)


_BUILDERS: dict[type, object] = {}


def _builder(cls: type):
    """A function building one node of `cls` from its JSON body: generated once per class (as
    dataclasses generate __init__), so each slot is one direct assignment, not a loop step."""
    ns = {"NEW": _NEW, "SET": _SET, "C": cls, "Unsupported": Unsupported}
    keys, lines = [], []
    for i, (attr, key, kind, extra) in enumerate(_plan(cls)):
        if kind in ("unknown", "val"):
            raise Unsupported(f"{cls.__name__}.{attr} of type {extra}")
        keys.append(key)
        k, a = repr(key), repr(attr)
        slot = next((c.__dict__[attr] for c in cls.__mro__ if attr in c.__dict__), None)
        if slot is not None and hasattr(slot, "__set__"):
            ns[f"S{i}"] = slot.__set__  # the slot's own setter: skips attribute lookup on every call
            set_ = f"S{i}(n, "
        else:
            set_ = f"SET(n, {a}, "
        if kind == "bool":
            lines.append(f"{set_}bool(g({k})))")
        elif kind == "str":
            lines.append(f"{set_}g({k}))")
        elif kind == "char":
            lines.append(f"{set_}g({k}, '\\x00'))")
        elif kind == "num":
            lines.append(f"{set_}g({k}, 0))")
        elif kind == "loc":
            lines.append(f"{set_}LOC(g({k}, 0)))")
        elif kind == "list":
            lines.append(f"v = g({k}); {set_}tuple([W(x) for x in v]) if v else None)")
        elif kind == "node":
            lines.append(f"v = g({k}); {set_}None if v is None else W(v))")
        elif kind == "typed":
            ns[f"T{i}"] = extra
            lines.append(f"v = g({k}); {set_}None if v is None else T(T{i}, v))")
        elif kind == "set":
            lines.append(f"v = g({k}); {set_}None if v is None else set(v))")
        elif kind == "enum":
            ns[f"E{i}"] = extra
            try:
                ns[f"D{i}"] = extra(0)
                default = f"D{i}"
            except ValueError:  # a char-valued enum has no zero: the JSON always names it
                lines.insert(0, f"if {k} not in body: raise Unsupported('{cls.__name__}: no {key}')")
                default = "None"
            lines.append(f"v = g({k}); {set_}{default} if v is None else (E{i}[v] if v.__class__ is str else E{i}(v)))")
    ns["KEYS"] = frozenset(keys)
    body = "\n    ".join(lines)
    src = (f"def build(body, W, T, LOC):\n"
           f"    if not KEYS.issuperset(body): raise Unsupported('{cls.__name__}: unexpected keys')\n"
           f"    n = NEW(C)\n    g = body.get\n    {body}\n    return n\n")
    exec(src, ns)  # noqa: S102 - generated from pglast's own slot declarations, no outside input
    fn = _BUILDERS[cls] = ns["build"]
    return fn


class _Builder:
    __slots__ = ("loc",)

    def __init__(self, loc):
        self.loc = loc  # byte offset -> character offset, as pglast computes it

    def wrapped(self, value):
        """A node written as {"ClassName": {...}}, or a bare JSON list (a List in a List)."""
        if isinstance(value, list):
            return tuple(self.wrapped(v) for v in value) if value else None
        if not value and isinstance(value, dict):
            return None  # a NULL pointer in a List
        if not isinstance(value, dict) or len(value) != 1:
            raise Unsupported(f"not a wrapped node: {value!r:.80}")
        (name, body), = value.items()
        if name == "List":
            items = body.get("items")
            return tuple(self.wrapped(v) for v in items) if items else None
        cls = _NODE_CLASSES.get(name)
        if cls is None or not isinstance(body, dict):
            raise Unsupported(f"unknown node {name}")
        return self.typed(cls, body)

    def typed(self, cls: type, body: dict):
        if cls is ast.A_Const:
            return self.const(body)
        build = _BUILDERS.get(cls) or _builder(cls)
        return build(body, self.wrapped, self.typed, self.loc)

    def const(self, body: dict):
        node = _NEW(ast.A_Const)
        _SET(node, "isnull", bool(body.get("isnull")))
        _SET(node, "val", self.const_val(body))
        return node

    @staticmethod
    def const_val(body: dict):
        """A_Const's value union: {"ival": {"ival": 1}}, {"sval": {...}}, ..., or isnull."""
        if body.get("isnull"):
            return None
        for key, cls, field in (("ival", ast.Integer, "ival"), ("sval", ast.String, "sval"),
                                ("fval", ast.Float, "fval"), ("boolval", ast.Boolean, "boolval"),
                                ("bsval", ast.BitString, "bsval")):
            if key in body:
                inner = body[key]
                node = _NEW(cls)
                value = inner.get(field)
                if cls is ast.Integer:
                    value = value or 0
                elif cls is ast.Boolean:
                    value = bool(value)
                _SET(node, field, value)
                return node
        raise Unsupported(f"A_Const without a value: {body!r:.80}")


def _locator(text: str):
    """Byte offset -> character index, None outside the text: what pglast's Displacements does."""
    if text.isascii():
        last = len(text) - 1
        return lambda offset: offset if 0 <= offset <= last else None
    # libpg_query counts bytes of UTF-8; pglast (and Python) count characters.
    index = []
    for i, ch in enumerate(text):
        index.extend([i] * len(ch.encode("utf-8")))
    last = len(index) - 1
    return lambda offset: index[offset] if 0 <= offset <= last else None


def parse_sql(text: str) -> tuple:
    """Like `pglast.parse_sql` (same tree, same ParseError on bad SQL), several times faster."""
    try:
        json_text = parse_sql_json(text)  # raises ParseError for bad SQL, like parse_sql
    except Exception:
        return _slow_parse_sql(text)  # the same error, raised the way callers already handle it
    try:
        tree = json.loads(json_text)
        builder = _Builder(_locator(text))
        out = []
        for raw in tree.get("stmts", ()):
            stmt = builder.wrapped(raw["stmt"]) if "stmt" in raw else None
            start = raw.get("stmt_location", 0)
            length = raw.get("stmt_len", 0)
            node = _NEW(ast.RawStmt)
            _SET(node, "stmt", stmt)
            _SET(node, "stmt_location", builder.loc(start))
            _SET(node, "stmt_len", builder.loc(start + length) - builder.loc(start))
            out.append(node)
        return tuple(out)
    except (Unsupported, KeyError, ValueError, TypeError, IndexError):
        return _slow_parse_sql(text)


class ParsedFile:
    """One file's statements as the parser's JSON: where each one is and what it is.

    Loading a thousand migrations only needs to know what kind of statement each one is (and a
    flag or two: CONCURRENTLY, what a DROP drops), which the JSON says directly; building every
    tree up front was most of the load time. Callers read what they need and drop this (the JSON
    of a file weighs more than its tree); sqlfile.LaterTrees builds the trees if they are asked for."""

    __slots__ = ("text", "spans", "bodies")

    def __init__(self, text: str):
        self.text = text
        try:
            json_text = parse_sql_json(text)
        except Exception:
            _slow_parse_sql(text)  # bad SQL: the ParseError callers know (character offsets)
            raise
        loc = _locator(text)
        self.spans: list[tuple[int, int]] = []  # (start, length) in characters
        self.bodies: list[dict | None] = []  # {"IndexStmt": {...}}: the statement's wrapped JSON node
        for raw in json.loads(json_text).get("stmts", ()):
            start = raw.get("stmt_location", 0)
            length = raw.get("stmt_len", 0)
            self.spans.append((loc(start), loc(start + length) - loc(start) if length else 0))
            self.bodies.append(raw.get("stmt"))

