"""Connecting: DSN resolution (flag, PGFERRY_DSN, libpq variables), masking, error mapping."""
from __future__ import annotations

import os
import re
import socket
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import conninfo as ci

from . import __version__
from .errors import ConnectError, ReadOnlyDatabase, UsageError

MASK = "****"


def resolve_dsn(flag: str | None) -> str:
    """--dsn, else PGFERRY_DSN, else "" (libpq then reads PGHOST, PGUSER, ...)."""
    if flag:
        return flag
    return os.environ.get("PGFERRY_DSN", "")


# Values of these keys are never secret; any other value of a DSN pgferry cannot parse is
# treated as one (a misspelt "passwd=" still holds a password).
SAFE_KEYS = {"host", "hostaddr", "port", "dbname", "user", "application_name", "sslmode", "connect_timeout",
             "target_session_attrs", "options", "service"}
_PAIR = re.compile(r"(\b([A-Za-z_]+)\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]+)")


def _secrets(dsn: str) -> list[str]:
    """What must never be shown of a DSN: its password, or every unsafe value when unparsable."""
    try:
        pw = ci.conninfo_to_dict(dsn).get("password")
        return [pw] if pw else []
    except psycopg.ProgrammingError:
        pass
    out = []
    m = re.match(r"^[a-z0-9+.-]+://[^:/@]*:([^@]*)@", dsn, re.I)
    if m and m.group(1):
        out.append(m.group(1))
    if "://" not in dsn:
        out += [v.strip("'") for _, k, v in _PAIR.findall(dsn) if k.lower() not in SAFE_KEYS]
    return [s for s in out if len(s) >= 3]


def _password(dsn: str) -> str | None:
    found = _secrets(dsn)
    return found[0] if found else None


def mask_dsn(dsn: str) -> str:
    """The DSN with any password replaced, safe to print or log."""
    if not dsn:
        return "(libpq defaults: PGHOST, PGUSER, ...)"
    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
            if parts.password is not None:
                user = parts.username or ""
                host = parts.hostname or ""
                if parts.port:
                    host = f"{host}:{parts.port}"
                netloc = f"{user}:{MASK}@{host}"
                dsn = urlunsplit(parts._replace(netloc=netloc))
        except ValueError:  # e.g. a port that is not a number
            dsn = re.sub(r"^([a-z0-9+.-]+://[^:/@]*):[^@]*@", r"\1:" + MASK + "@", dsn, flags=re.I)
        return re.sub(r"(password=)[^&]*", r"\1" + MASK, dsn)
    try:
        params = ci.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return _PAIR.sub(lambda m: m.group(0) if m.group(2).lower() in SAFE_KEYS else m.group(1) + MASK, dsn)
    if "password" in params:
        params["password"] = MASK
    return ci.make_conninfo(**params)


def scrub(text: str, *dsns: str) -> str:
    """Remove any password of `dsns` from a message (driver errors can echo them)."""
    for dsn in dsns:
        for secret in (_secrets(dsn) if dsn else ()):
            text = text.replace(secret, MASK)
    env_pw = os.environ.get("PGPASSWORD")
    if env_pw:
        text = text.replace(env_pw, MASK)
    return text


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
    diag = getattr(exc, "diag", None)
    text = getattr(exc, "message", None) or (diag.message_primary if diag is not None else None) or str(exc)
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
    except psycopg.ProgrammingError as exc:
        raise UsageError(f"invalid DSN {mask_dsn(dsn)}: {scrub(str(exc), dsn)}", hint="use postgresql://user@host:port/db or key=value pairs") from None
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
