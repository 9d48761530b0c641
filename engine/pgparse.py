"""PostgreSQL's parser, fast: pglast ASTs built from libpg_query's JSON output.

`pglast.parse_sql` builds its AST through `Node.__setattr__`, which validates and coerces every
attribute in Python: about 0.55 ms for a five-statement migration, most of the cold start of a
1,000-migration `pgferry up` (profiled: 355,000 `__setattr__` calls for 2,000 files). The same
parser (libpg_query, in C) also prints its tree as JSON; `json.loads` of that and a plain walk that
sets the slots directly gives the identical tree (same classes, same values, same locations) in a
fraction of the time. The walk is driven by pglast's own slot declarations, so it covers every
node class pglast knows; anything it does not understand raises, and `parse` then falls back to
`pglast.parse_sql`, so the result is never a different tree, only sometimes a slower one.
tests/test_pgparse.py checks that the two agree on every bundled migration and a corpus of DDL.
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


_DEFAULTS = {"bool": False, "str": None, "char": "\x00", "loc": 0, "num": 0, "list": None, "node": None,
             "set": None, "typed": None}
_SPECS: dict[type, tuple] = {}


def _spec(cls: type) -> tuple:
    """What absent keys default to (as libpg_query leaves them out) and how to convert present ones."""
    defaults, handlers, required = [], {}, []
    for attr, key, kind, extra in _plan(cls):
        if kind == "unknown" or kind == "val":
            raise Unsupported(f"{cls.__name__}.{attr} of type {extra}")
        handlers[key] = (attr, kind, extra)
        if kind == "enum":
            try:
                defaults.append((attr, extra(0)))
            except ValueError:  # a char-valued enum has no zero: the JSON always names it
                required.append(key)
        else:
            defaults.append((attr, _DEFAULTS[kind]))
    spec = _SPECS[cls] = (tuple(defaults), handlers, tuple(required))
    return spec


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
        defaults, handlers, required = _SPECS.get(cls) or _spec(cls)
        for key in required:
            if key not in body:
                raise Unsupported(f"{cls.__name__}: no {key!r}")
        node = _NEW(cls)
        for attr, value in defaults:
            _SET(node, attr, value)
        for key, v in body.items():
            try:
                attr, kind, extra = handlers[key]
            except KeyError:
                raise Unsupported(f"{cls.__name__}: unexpected key {key!r}") from None
            if kind == "node":
                v = self.wrapped(v)
            elif kind == "list":
                v = tuple([self.wrapped(x) for x in v]) if v else None
            elif kind == "str":
                if not isinstance(v, str):
                    raise Unsupported(f"{cls.__name__}.{attr}: {v!r:.40}")
            elif kind == "bool":
                v = bool(v)
            elif kind == "loc":
                v = self.loc(v)
            elif kind == "enum":
                v = extra[v] if isinstance(v, str) else extra(v)
            elif kind == "typed":
                v = self.typed(extra, v)
            elif kind == "set":
                v = set(v)
            # num and char: as written
            _SET(node, attr, v)
        return node

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
