"""Connecting: DSN resolution (flag, PGFERRY_DSN, libpq variables), masking, error mapping."""
from __future__ import annotations

import os
import re
import socket
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import conninfo as ci

from . import __version__
from .errors import ConnectError, UsageError

MASK = "****"


def resolve_dsn(flag: str | None) -> str:
    """--dsn, else PGFERRY_DSN, else "" (libpq then reads PGHOST, PGUSER, ...)."""
    if flag:
        return flag
    return os.environ.get("PGFERRY_DSN", "")


def _password(dsn: str) -> str | None:
    try:
        return ci.conninfo_to_dict(dsn).get("password") or None
    except psycopg.ProgrammingError:
        m = re.match(r"^[a-z]+://[^:/@]*:([^@]*)@", dsn)
        return m.group(1) if m else None


def mask_dsn(dsn: str) -> str:
    """The DSN with any password replaced, safe to print or log."""
    if not dsn:
        return "(libpq defaults: PGHOST, PGUSER, ...)"
    if "://" in dsn:
        parts = urlsplit(dsn)
        if parts.password is not None:
            user = parts.username or ""
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            netloc = f"{user}:{MASK}@{host}"
            dsn = urlunsplit(parts._replace(netloc=netloc))
        return re.sub(r"(password=)[^&]*", r"\1" + MASK, dsn)
    try:
        params = ci.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1" + MASK, dsn)
    if "password" in params:
        params["password"] = MASK
    return ci.make_conninfo(**params)


def scrub(text: str, *dsns: str) -> str:
    """Remove any password of `dsns` from a message (driver errors can echo them)."""
    for dsn in dsns:
        pw = _password(dsn) if dsn else None
        if pw:
            text = text.replace(pw, MASK)
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
        reason = scrub(str(exc).strip().splitlines()[-1] if str(exc).strip() else "connection failed", dsn)
        raise ConnectError(f"cannot connect to {describe_target(dsn)}: {reason}", hint="check --dsn, PGFERRY_DSN or the PG* variables") from None
