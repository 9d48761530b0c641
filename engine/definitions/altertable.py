"""ALTER TABLE, one subcommand at a time: the lock PostgreSQL takes for it and the work it does.

The lock levels are PostgreSQL's AlterTableGetLockLevel (src/backend/commands/tablecmds.c; the
documentation of ALTER TABLE names the same): ACCESS EXCLUSIVE unless a subcommand is known to
need less, and the statement takes the strongest of its subcommands'. The work follows the
documentation's notes on which forms rewrite or scan the table (PostgreSQL 11 and later: adding a
column with a non-volatile default is catalog only)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from pglast import ast
from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType
from pglast.visitors import Visitor

from .lockmodes import LockMode, Work

SCAN, REWRITE, INDEX_BUILD, CATALOG = Work.SCAN, Work.REWRITE, Work.INDEX_BUILD, Work.CATALOG_ONLY

# Built-ins whose result changes from row to row: a DEFAULT calling one is evaluated for every row,
# so ADD COLUMN rewrites the table. (pg_proc.provolatile = 'v'.)
VOLATILE_FUNCTIONS = frozenset({
    "random", "random_normal", "clock_timestamp", "timeofday", "gen_random_uuid", "uuidv4", "uuidv7",
    "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "nextval", "setval", "currval",
    "lastval", "txid_current", "pg_current_xact_id", "gen_random_bytes", "random_string",
})
# Built-ins known not to be volatile (immutable or stable: evaluated once for ADD COLUMN).
STABLE_FUNCTIONS = frozenset({
    "now", "transaction_timestamp", "statement_timestamp", "current_setting", "lower", "upper", "trim",
    "btrim", "ltrim", "rtrim", "length", "char_length", "concat", "concat_ws", "md5", "sha256",
    "date_trunc", "date_part", "to_char", "to_timestamp", "to_date", "make_interval", "make_date",
    "jsonb_build_object", "json_build_object", "jsonb_build_array", "json_build_array", "to_jsonb",
    "to_json", "array_length", "abs", "round", "floor", "ceil", "substring", "substr", "replace",
    "left", "right", "format", "extract", "age", "timezone", "int4", "int8", "text", "numeric",
})

_SERIAL_TYPES = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})

# Subcommands that need less than ACCESS EXCLUSIVE (AlterTableGetLockLevel).
_LESSER_LOCKS = {
    AT.AT_SetStatistics: LockMode.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_ClusterOn: LockMode.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_DropCluster: LockMode.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_SetOptions: LockMode.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_ResetOptions: LockMode.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_ValidateConstraint: LockMode.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_AttachPartition: LockMode.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_DetachPartitionFinalize: LockMode.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_SetRelOptions: LockMode.SHARE_UPDATE_EXCLUSIVE,  # fillfactor, autovacuum_*: most options
    AT.AT_ResetRelOptions: LockMode.SHARE_UPDATE_EXCLUSIVE,
    **dict.fromkeys((AT.AT_EnableTrig, AT.AT_EnableAlwaysTrig, AT.AT_EnableReplicaTrig, AT.AT_EnableTrigAll,
                     AT.AT_EnableTrigUser, AT.AT_DisableTrig, AT.AT_DisableTrigAll, AT.AT_DisableTrigUser),
                    LockMode.SHARE_ROW_EXCLUSIVE),  # triggers affect writes only
}

# Subcommands that change only the catalog (under the lock above, for an instant).
_CATALOG_ONLY = frozenset({
    AT.AT_ColumnDefault, AT.AT_DropNotNull, AT.AT_DropColumn, AT.AT_DropConstraint, AT.AT_SetStatistics,
    AT.AT_SetOptions, AT.AT_ResetOptions, AT.AT_SetStorage, AT.AT_SetCompression, AT.AT_ChangeOwner,
    AT.AT_ClusterOn, AT.AT_DropCluster, AT.AT_SetRelOptions, AT.AT_ResetRelOptions, AT.AT_ReplicaIdentity,
    AT.AT_EnableRowSecurity, AT.AT_DisableRowSecurity, AT.AT_ForceRowSecurity, AT.AT_NoForceRowSecurity,
    AT.AT_AddIdentity, AT.AT_SetIdentity, AT.AT_DropIdentity, AT.AT_DropExpression, AT.AT_AlterConstraint,
    AT.AT_AddIndexConstraint, AT.AT_DetachPartition, AT.AT_DetachPartitionFinalize, AT.AT_AddInherit,
    AT.AT_DropInherit, AT.AT_GenericOptions, AT.AT_AlterColumnGenericOptions,
    AT.AT_EnableTrig, AT.AT_EnableAlwaysTrig, AT.AT_EnableReplicaTrig, AT.AT_EnableTrigAll, AT.AT_EnableTrigUser,
    AT.AT_DisableTrig, AT.AT_DisableTrigAll, AT.AT_DisableTrigUser, AT.AT_EnableRule, AT.AT_EnableAlwaysRule,
    AT.AT_EnableReplicaRule, AT.AT_DisableRule, AT.AT_AddOf, AT.AT_DropOf,
})
# Subcommands that copy the whole table into a new file.
_REWRITES = frozenset({AT.AT_SetTableSpace, AT.AT_SetLogged, AT.AT_SetUnLogged, AT.AT_SetAccessMethod,
                       AT.AT_SetExpression})


@dataclass
class SubEffect:
    """One subcommand's lock on the altered table, its work, and locks it takes elsewhere."""

    mode: LockMode
    work: tuple[str, ...] = ()
    other_locks: tuple[tuple[str, LockMode], ...] = ()  # (relation, mode): the table an FK references
    volatile_default: bool | None = None
    notes: list[str] = field(default_factory=list)
    known: bool = True


def qualified(rv: ast.RangeVar) -> str:
    """"schema.name"; unqualified names are in public (the usual search_path)."""
    return f"{rv.schemaname or 'public'}.{rv.relname}"


def type_of(tn: ast.TypeName) -> tuple[str, tuple[int, ...]]:
    """("varchar", (20,)) for varchar(20): the type's last name and its integer modifiers."""
    mods = tuple(m.val.ival for m in (tn.typmods or ()) if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer))
    return tn.names[-1].sval, mods


class _Calls(Visitor):
    def __init__(self):
        super().__init__()
        self.names: list[str] = []

    def visit_FuncCall(self, ancestors, node: ast.FuncCall) -> None:
        self.names.append(node.funcname[-1].sval.lower())


def volatility(expr: ast.Node | None) -> tuple[bool, list[str]]:
    """(volatile?, notes) for a DEFAULT expression: volatile if it calls a known volatile built-in,
    and assumed volatile (said in a note) if it calls a function this list does not know."""
    if expr is None:
        return False, []
    calls = _Calls()
    calls(expr)
    if any(n in VOLATILE_FUNCTIONS for n in calls.names):
        return True, []
    unknown = sorted({n for n in calls.names if n not in STABLE_FUNCTIONS})
    if unknown:
        return True, [f"{', '.join(f'{n}()' for n in unknown)}: volatility not known here, assumed volatile (a rewrite)"]
    return False, []


def binary_coercible(old: tuple[str, tuple[int, ...]], new: tuple[str, tuple[int, ...]]) -> bool:
    """A type change PostgreSQL makes without touching the rows: varchar(n) to text or to a wider
    varchar, numeric(p, s) to a wider precision of the same scale, or the same type."""
    (o, om), (n, nm) = old, new
    texts = {"varchar", "text", "bpchar_unbounded"}
    if o == n and (not nm or om == nm):
        return True
    if o in texts and n == "text":
        return True
    if o in ("varchar", "text") and n == "varchar":
        return not nm or (o == "varchar" and bool(om) and nm[0] >= om[0])
    if o == n == "numeric" and om and nm:
        return len(nm) == len(om) and nm[0] >= om[0] and nm[1:] == om[1:]
    return False


def _add_column(d: ast.ColumnDef) -> SubEffect:
    cons = [c for c in (d.constraints or ()) if isinstance(c, ast.Constraint)]
    kinds = {c.contype for c in cons}
    default = next((c.raw_expr for c in cons if c.contype == ConstrType.CONSTR_DEFAULT), None)
    tname = type_of(d.typeName)[0] if d.typeName else ""
    other = tuple((qualified(c.pktable), LockMode.SHARE_ROW_EXCLUSIVE) for c in cons if c.contype == ConstrType.CONSTR_FOREIGN)
    if tname in _SERIAL_TYPES or ConstrType.CONSTR_IDENTITY in kinds:
        return SubEffect(LockMode.ACCESS_EXCLUSIVE, (REWRITE,), other, True,
                         [f"{d.colname}: a serial or identity column fills every row from a sequence"])
    if any(c.contype == ConstrType.CONSTR_GENERATED and c.generated_kind != "v" for c in cons):
        return SubEffect(LockMode.ACCESS_EXCLUSIVE, (REWRITE,), other, None, [f"{d.colname}: a stored generated column is computed for every row"])
    volatile, notes = volatility(default)
    work = [REWRITE] if volatile else [CATALOG]
    not_null = d.is_not_null or ConstrType.CONSTR_NOTNULL in kinds or ConstrType.CONSTR_PRIMARY in kinds
    if not volatile and not_null and default is None:
        work = [SCAN]  # PostgreSQL checks every row for the missing value (and fails if there is one)
    if kinds & {ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_EXCLUSION}:
        work.append(INDEX_BUILD)
    if ConstrType.CONSTR_CHECK in kinds and not volatile:
        work = [SCAN if w == CATALOG else w for w in work]
    return SubEffect(LockMode.ACCESS_EXCLUSIVE, tuple(work), other, volatile if default is not None else None, notes)


def _add_constraint(c: ast.Constraint) -> SubEffect:
    if c.contype == ConstrType.CONSTR_FOREIGN:
        work = (CATALOG,) if c.skip_validation else (SCAN,)
        return SubEffect(LockMode.SHARE_ROW_EXCLUSIVE, work, ((qualified(c.pktable), LockMode.SHARE_ROW_EXCLUSIVE),))
    if c.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_EXCLUSION):
        if c.indexname:  # USING INDEX: the index exists already
            notes = ["PRIMARY KEY USING INDEX also checks its columns are NOT NULL (a scan unless they already are)"] \
                if c.contype == ConstrType.CONSTR_PRIMARY else []
            return SubEffect(LockMode.ACCESS_EXCLUSIVE, (CATALOG,), notes=notes)
        return SubEffect(LockMode.ACCESS_EXCLUSIVE, (INDEX_BUILD,))
    if c.contype == ConstrType.CONSTR_CHECK:
        return SubEffect(LockMode.ACCESS_EXCLUSIVE, (CATALOG,) if c.skip_validation else (SCAN,))
    return SubEffect(LockMode.ACCESS_EXCLUSIVE, (CATALOG,))


def _alter_type(cmd: ast.AlterTableCmd, columns: Mapping[str, str | tuple] | None) -> SubEffect:
    d = cmd.def_
    new = type_of(d.typeName)
    old = (columns or {}).get(cmd.name)
    using = d.raw_default.arg if isinstance(d.raw_default, ast.TypeCast) else d.raw_default
    if using is not None and not isinstance(using, ast.ColumnRef):
        return SubEffect(LockMode.ACCESS_EXCLUSIVE, (REWRITE,), notes=[f"{cmd.name}: USING computes every row anew"])
    if old is not None:
        if binary_coercible(old, new):
            return SubEffect(LockMode.ACCESS_EXCLUSIVE, (CATALOG,), notes=[f"{cmd.name}: binary-coercible change, no rewrite"])
        return SubEffect(LockMode.ACCESS_EXCLUSIVE, (REWRITE,))
    notes = []
    if new[0] in ("text", "varchar", "numeric"):
        notes.append(f"{cmd.name}: assumed a rewrite (the column's current type is not known here; "
                     f"from varchar to text or a wider varchar PostgreSQL only changes the catalog)")
    return SubEffect(LockMode.ACCESS_EXCLUSIVE, (REWRITE,), notes=notes)


def subcommand(cmd: ast.AlterTableCmd, columns: Mapping[str, tuple] | None = None) -> SubEffect:
    """The lock and work of one ALTER TABLE subcommand. `columns`: the table's column types when
    known (name -> type_of(...)), to tell a binary-coercible type change from a rewrite."""
    st = cmd.subtype
    if st == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
        return _add_column(cmd.def_)
    if st == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
        return _add_constraint(cmd.def_)
    if st == AT.AT_AlterColumnType and isinstance(cmd.def_, ast.ColumnDef):
        return _alter_type(cmd, columns)
    if st == AT.AT_SetNotNull:
        return SubEffect(LockMode.ACCESS_EXCLUSIVE, (SCAN,), notes=[
            f"{cmd.name}: the scan is skipped when a valid CHECK ({cmd.name} IS NOT NULL) exists (PostgreSQL 12+)"])
    if st == AT.AT_ValidateConstraint:
        return SubEffect(LockMode.SHARE_UPDATE_EXCLUSIVE, (SCAN,))
    if st == AT.AT_AttachPartition:
        return SubEffect(LockMode.SHARE_UPDATE_EXCLUSIVE, (SCAN,), notes=[
            "the attached partition is locked ACCESS EXCLUSIVE and scanned unless a CHECK proves its bound"])
    if st == AT.AT_DetachPartition and getattr(cmd.def_, "concurrent", False):
        return SubEffect(LockMode.SHARE_UPDATE_EXCLUSIVE, (CATALOG,))
    mode = _LESSER_LOCKS.get(st, LockMode.ACCESS_EXCLUSIVE)
    if st in _REWRITES:
        return SubEffect(mode, (REWRITE,))
    if st in _CATALOG_ONLY:
        return SubEffect(mode, (CATALOG,))
    return SubEffect(mode, (), known=False, notes=[f"{st.name[3:]}: work not modelled (lock per PostgreSQL's default)"])
