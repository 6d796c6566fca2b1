"""Database engines and schema migrations (Alembic, run from inside the package)."""

from __future__ import annotations

import math
import os
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError

from crmkit.errors import BusyError, ConfigError, ValidationError
from crmkit.storage.types import INT64_MAX

DEFAULT_URL = "sqlite:///crmkit.db"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and a bare file path as well as full SQLAlchemy URLs."""
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


LOCK_TIMEOUT_ENV = "CRMKIT_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 10.0
# A tick or an import can hold a tenant's write lock for a while; past this long a
# waiting writer gives up with BusyError instead of waiting without end.
LOCK_TIMEOUT_MAX = 3600.0


def lock_timeout() -> float:
    """Seconds a writer waits for another's write lock (``CRMKIT_LOCK_TIMEOUT``, an
    operator's setting: default 10)."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= LOCK_TIMEOUT_MAX:  # NaN fails this too
        raise ConfigError(
            f"{LOCK_TIMEOUT_ENV}={raw!r} is not a number of seconds from 0 to {LOCK_TIMEOUT_MAX:g}"
        )
    return seconds


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL sync is durable at commit under WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout() * 1000)}")
    cursor.close()


def _postgres_lock_timeout(dbapi_connection: Any, _record: Any) -> None:
    # Bounds waits for the tenant's advisory lock (and any row lock) the same way.
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = {int(lock_timeout() * 1000)}")
    dbapi_connection.commit()


def _busy(context: ExceptionContext) -> None:
    """Turn "the lock was held past the timeout" into :class:`BusyError`, one line that
    says what happened and that nothing changed (instead of a driver's traceback)."""
    orig = context.original_exception
    locked = (
        getattr(orig, "sqlstate", None) == "55P03"
        if context.engine is not None and context.engine.dialect.name == "postgresql"
        else "database is locked" in str(orig)
    )
    if locked:
        raise BusyError(
            f"the database is busy: another writer (a tick, an import or an ingest?) "
            f"held its write lock for more than {lock_timeout():g} s; nothing was changed, "
            f"try again (or raise {LOCK_TIMEOUT_ENV})"
        ) from context.sqlalchemy_exception


def _refuse_unstorable(
    conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, many: bool
) -> None:
    """Refuse, with a clear error, values the database would reject mid-statement with a
    driver error: integers beyond 64 bits (a contact id given as 2**64 names nothing) and,
    on PostgreSQL, text with a NUL character. Inputs are checked where they enter, with
    their field named; this is the last guard for values that reach SQL another way.
    SQLite's bulk writes are left unscanned: only validated rows reach them, and they are
    the hot path of ingest."""
    postgres = conn.dialect.name == "postgresql"
    if many and not postgres:
        return
    for row in parameters if many else [parameters]:
        values = row.values() if isinstance(row, dict) else row
        for value in values or ():
            if type(value) is int and not -INT64_MAX - 1 <= value <= INT64_MAX:
                raise ValidationError(f"the number {value} is beyond what can be stored (64 bits)")
            if postgres and isinstance(value, str) and "\x00" in value:
                raise ValidationError(
                    "text with a NUL character (\\x00) cannot be stored or searched for: "
                    f"{value[:80]!r}"
                )


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (SQLite file or PostgreSQL through psycopg 3)."""
    full = normalize_url(url)
    try:
        parsed = make_url(full)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}; use sqlite or postgresql"
        )
    lock_timeout()  # a bad CRMKIT_LOCK_TIMEOUT is reported here, not at first use
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "connect", _postgres_lock_timeout)
    event.listen(engine, "handle_error", _busy)
    event.listen(engine, "before_cursor_execute", _refuse_unstorable)
    return engine


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "crmkit.storage:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration."""
    command.upgrade(_alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


__all__ = [
    "DEFAULT_URL",
    "current_revision",
    "head_revision",
    "lock_timeout",
    "make_engine",
    "normalize_url",
    "upgrade",
]
