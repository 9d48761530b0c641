"""Connecting: DSN resolution (flag, PGFERRY_DSN, libpq variables), masking, error mapping."""
from __future__ import annotations

import os
import re
import socket
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import unquote

import psycopg
from psycopg import conninfo as ci

from pgferry import __version__

from .errors import ConnectError, ReadOnlyDatabase, UsageError, server_message

MASK = "****"


@dataclass(frozen=True)
class Connections:
    """Which database each schema lives in; the first schema's database is the primary one."""

    dsns: Mapping[str, str]
    bookkeeping_schema: str = "public"

    @property
    def primary(self) -> str:
        return next(iter(self.dsns.values()))

    def distinct(self) -> list[str]:
        return list(dict.fromkeys(self.dsns.values()))


def resolve_dsn(flag: str | None) -> str:
    """--dsn, else PGFERRY_DSN, else "" (libpq then reads PGHOST, PGUSER, ...)."""
    if flag:
        return flag
    return os.environ.get("PGFERRY_DSN", "")


def schema_env(name: str) -> str:
    """The environment variable holding one schema's connection: PGFERRY_DSN_<NAME>."""
    return "PGFERRY_DSN_" + "".join(c if c.isalnum() else "_" for c in name.upper())


def schema_dsns(schemas, dsn: str | None = None, schema_dsn=()) -> dict[str, str]:
    """Each schema's connection. Flags beat the environment, the specific beats the general:
    schema_dsn items NAME=DSN (--schema-dsn) > dsn (--dsn) > PGFERRY_DSN_<NAME> > PGFERRY_DSN > libpq PG*."""
    base = resolve_dsn(dsn)
    out = {name: dsn or os.environ.get(schema_env(name)) or base for name in schemas}
    for item in schema_dsn:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UsageError(f"--schema-dsn expects NAME=DSN, got {mask_dsn(item)!r}")
        if name not in schemas:
            raise UsageError(f"--schema-dsn names unknown schema {name!r}", hint=f"known: {', '.join(schemas)}")
        out[name] = value
    return out


def known_secrets(*dsns: str | None, schema_dsn=()) -> list[str]:
    """Every DSN a process may know (given ones, NAME=DSN items, PGFERRY_DSN*), for scrubbing what it shows."""
    env = [v for k, v in os.environ.items() if k.startswith("PGFERRY_DSN")]
    return [d for d in [*dsns, *(item.partition("=")[2] for item in schema_dsn), *env] if d]


# Values of these keys are never secret; any other value of a DSN pgferry cannot parse is
# treated as one (a misspelt "passwd=" still holds a password).
SAFE_KEYS = {"host", "hostaddr", "port", "dbname", "user", "application_name", "sslmode", "connect_timeout",
             "target_session_attrs", "options", "service"}
SECRET_KEYS = ("password", "sslpassword")
# key=value; a quoted value runs to its closing quote, or to the end when the quote is left open.
_PAIR = re.compile(r"(\b([A-Za-z_]+)\s*=\s*)('(?:[^'\\]|\\.)*(?:'|$)|[^\s]+)")
# A password-like key without "=" after it ("password:hunter2"): where its value ends cannot be
# known, so everything after it counts as the value.
_SECRET_KEY = r"(?:ssl)?pass(?:word|wd|phrase)?|pwd|secret"
_LOOSE = re.compile(rf"(?i)\b({_SECRET_KEY})\b(?!\s*=)(\W*)(\S.*)$", re.S)
# A URI; its user part runs to the last "@" before the query (a password may hold an unencoded "/").
_URI = re.compile(r"^(?P<head>[a-z][a-z0-9+.-]*://)(?P<netloc>[^?#]*@[^/?#]*|[^/?#]*)(?P<path>[^?#]*)"
                  r"(?:\?(?P<query>[^#]*))?(?P<tail>.*)$", re.I | re.S)


def _parses(dsn: str) -> bool:
    try:
        ci.conninfo_to_dict(dsn)
        return True
    except psycopg.ProgrammingError:
        return False


def _secret_key(key: str, parsable: bool) -> bool:
    key = key.lower()
    return key in SECRET_KEYS or bool(re.fullmatch(_SECRET_KEY, key)) or (not parsable and key not in SAFE_KEYS)


def _uri_secrets(dsn: str, parsable: bool) -> list[str]:
    """The password of a URI's user part and the values of its secret query parameters, as
    written and percent-decoded (a driver may echo either)."""
    m = _URI.match(dsn)
    if not m:
        return []
    userinfo, at, _ = m["netloc"].rpartition("@")
    raw = [userinfo.partition(":")[2]] if at else []
    for pair in (m["query"] or "").split("&"):
        key, eq, value = pair.partition("=")
        if eq and _secret_key(key, parsable):
            raw.append(value)
    return raw + [unquote(v) for v in raw]


def _secrets(dsn: str) -> list[str]:
    """What must never be shown of a DSN: its passwords, and every value that is not known to be
    harmless when libpq cannot parse it."""
    parsable = _parses(dsn)
    found = [ci.conninfo_to_dict(dsn).get(k) for k in SECRET_KEYS] if parsable else []
    if "://" in dsn:
        found += _uri_secrets(dsn, parsable)
    elif not parsable:
        found += [v.strip("'") for _, k, v in _PAIR.findall(dsn) if k.lower() not in SAFE_KEYS]
    loose = None if parsable else _LOOSE.search(dsn)
    if loose:
        found += [loose[3], *(w.strip("'\"") for w in loose[3].split())]
    return list(dict.fromkeys(s for s in found if s))


def _mask_uri(dsn: str, parsable: bool) -> str:
    m = _URI.match(dsn)
    if not m:
        return dsn
    userinfo, at, host = m["netloc"].rpartition("@")
    user, colon, _ = userinfo.partition(":")
    netloc = f"{user}{colon and ':' + MASK}{at}{host}"
    query = "&".join(
        f"{key}={MASK}" if eq and _secret_key(key, parsable) else key + eq + value
        for key, eq, value in (pair.partition("=") for pair in m["query"].split("&"))
    ) if m["query"] is not None else None
    return f"{m['head']}{netloc}{m['path']}{'' if query is None else '?' + query}{m['tail']}"


def mask_dsn(dsn: str) -> str:
    """The DSN with any password replaced, safe to print or log."""
    if not dsn:
        return "(libpq defaults: PGHOST, PGUSER, ...)"
    parsable = _parses(dsn)
    if "://" in dsn:
        masked = _mask_uri(dsn, parsable)
    elif parsable:
        params = ci.conninfo_to_dict(dsn)
        return ci.make_conninfo(**{k: MASK if k in SECRET_KEYS else v for k, v in params.items()})
    else:
        masked = _PAIR.sub(lambda m: m[0] if m[2].lower() in SAFE_KEYS else m[1] + MASK, dsn)
    return masked if parsable else _LOOSE.sub(lambda m: m[1] + m[2] + MASK, masked)


def _hide(text: str, secret: str) -> str:
    """`text` with `secret` masked where it stands as a whole value, never inside a longer word:
    a one-letter password must not blank that letter out of every word of the message."""
    before = r"(?<!\w)" if re.match(r"\w", secret) else ""
    after = r"(?!\w)" if re.match(r"\w", secret[-1]) else ""
    return re.sub(before + re.escape(secret) + after, MASK, text)


def scrub(text: str, *dsns: str) -> str:
    """Remove any password of `dsns` from a message (driver errors can echo them): a DSN written
    out whole becomes its masked form, and each secret is hidden where it stands as a value."""
    for dsn in dsns:
        if not dsn:
            continue
        text = text.replace(dsn, mask_dsn(dsn))
        for secret in _secrets(dsn):
            text = _hide(text, secret)
    env_pw = os.environ.get("PGPASSWORD")
    return _hide(text, env_pw) if env_pw else text


def dsn_problem(dsn: str) -> str | None:
    """Why libpq cannot parse `dsn` (secrets hidden), or None when it can."""
    try:
        ci.conninfo_to_dict(dsn)
        return None
    except psycopg.ProgrammingError as exc:
        reason = " ".join(str(exc).split()) or "not a connection string"
        return f"invalid DSN {mask_dsn(dsn)}: {scrub(reason, dsn)}"


def describe_target(dsn: str) -> str:
    """user@host/db of a DSN (password never included)."""
    try:
        p = ci.conninfo_to_dict(dsn) if dsn else {}
    except psycopg.ProgrammingError:
        return mask_dsn(dsn)
    host = p.get("host") or os.environ.get("PGHOST") or "localhost"
    if host.startswith("/"):
        host = "socket"
    db = p.get("dbname") or os.environ.get("PGDATABASE") or p.get("user") or os.environ.get("PGUSER") or "postgres"
    user = p.get("user") or os.environ.get("PGUSER") or ""
    port = p.get("port") or os.environ.get("PGPORT")
    where = f"{host}:{port}" if port else host
    return f"{user + '@' if user else ''}{where}/{db}"


ROLES = ("migrator", "upgrade", "oob", "privileged", "status")


# Server-side reasons a session ends: admin shutdown (fast shutdown, pg_terminate_backend), crash
# shutdown, cannot connect now. Class 08 is the connection exception class; no SQLSTATE at all
# means libpq saw the socket close (immediate shutdown, a crash, the network).
LOST_STATES = ("57P01", "57P02", "57P03", "57P05")


def is_connection_loss(exc: BaseException) -> bool:
    """True for an error that means the session is gone (not a statement that failed)."""
    from .errors import ConnectError

    if isinstance(exc, ConnectError):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in LOST_STATES


def loss_reason(exc: BaseException, *dsns: str) -> str:
    """The server's (or libpq's) reason on one line, passwords removed."""
    text = getattr(exc, "message", None) or server_message(exc).text
    return scrub(" ".join(text.split()), *dsns) or type(exc).__name__


def application_name(role: str = "migrator", *, host: str | None = None, pid: int | None = None) -> str:
    # Shown in pg_stat_activity, so anyone can tell who holds a lock and from where (and a
    # watcher can find the sessions of a run from its host and process id).
    return f"pgferry {__version__} {role} {host or socket.gethostname()}:{pid or os.getpid()}"[:63]


def connect(dsn: str, *, autocommit: bool = True, role: str = "migrator", connect_timeout: int = 10) -> psycopg.Connection:
    try:
        return psycopg.connect(
            dsn,
            autocommit=autocommit,
            application_name=application_name(role),
            connect_timeout=connect_timeout,
        )
    except psycopg.ProgrammingError:
        raise UsageError(dsn_problem(dsn) or f"invalid DSN {mask_dsn(dsn)}",
                         hint="use postgresql://user@host:port/db or key=value pairs") from None
    except psycopg.OperationalError as exc:
        reason = scrub(connect_reason(str(exc)), dsn)
        if BAD_CONNINFO.search(reason):  # libpq refused the string itself: nothing was tried
            raise UsageError(f"invalid DSN {mask_dsn(dsn)}: {reason}",
                             hint="use postgresql://user@host:port/db or key=value pairs") from None
        raise ConnectError(f"cannot connect to {describe_target(dsn)}: {reason}", hint="check --dsn, PGFERRY_DSN or the PG* variables") from None


BAD_CONNINFO = re.compile(r"invalid (integer|port|sslmode|URI|percent-encoded|connection option|value for)|"
                          r"unexpected spaces|missing \"=\"|unterminated quoted", re.I)


def connect_reason(message: str) -> str:
    """libpq's reason on one line: 'permission denied for database "x" (User does not have CONNECT
    privilege.)' rather than its 'connection to server at ... failed: FATAL:' wrapping and a
    DETAIL on a line of its own."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "connection failed"
    head = re.sub(r"^connection failed:\s*", "", lines[0])
    head = re.sub(r"^connection to server (at|on) .*? failed:\s*", "", head)
    head = re.sub(r"^(FATAL|ERROR):\s*", "", head)
    more = [re.sub(r"^(DETAIL|HINT):\s*", "", line) for line in lines[1:]]
    return head + (f" ({' '.join(more)})" if more else "")


def ensure_writable(conn: psycopg.Connection, dsn: str) -> None:
    """Refuse, before writing anything, a connection that cannot write (one clear line, exit 1)
    instead of failing on the first CREATE or INSERT with "read-only transaction"."""
    in_recovery, read_only, default = conn.execute(
        "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
        "current_setting('default_transaction_read_only')").fetchone()
    where = describe_target(dsn)
    if in_recovery:
        raise ReadOnlyDatabase(f"{where} is a hot standby (pg_is_in_recovery() is true, read-only): nothing was changed",
                               hint="migrations run on the primary: point --dsn at it")
    if read_only == "on":
        raise ReadOnlyDatabase(
            f"{where} is read-only for this session (default_transaction_read_only = {default}): nothing was changed",
            hint="connect as a role (or to a database) without default_transaction_read_only, e.g. "
                 "ALTER ROLE ... RESET default_transaction_read_only")


def with_database(dsn: str, dbname: str | None) -> str:
    """`dsn` pointed at database `dbname` (unchanged without one): one superuser DSN per server
    serves every schema's database."""
    return ci.make_conninfo(dsn, dbname=dbname) if dbname else dsn


class Sessions:
    """One session per database, opened when first asked for and closed together: a read made of
    several parts (status, out-of-band progress, ...) costs one connection per database."""

    def __init__(self, role: str = "status"):
        self.role = role
        self._open: dict[str, psycopg.Connection] = {}

    def __call__(self, dsn: str) -> psycopg.Connection:
        if dsn not in self._open:
            self._open[dsn] = connect(dsn, role=self.role)
        return self._open[dsn]

    def __enter__(self) -> Sessions:
        return self

    def __exit__(self, *exc) -> None:
        for conn in self._open.values():
            conn.close()
        self._open.clear()


def sessions_or_own(sessions: Sessions | None) -> AbstractContextManager[Sessions]:
    """The caller's sessions (it closes them), else new ones closed on leaving the block."""
    return nullcontext(sessions) if sessions is not None else Sessions()
