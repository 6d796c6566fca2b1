"""Database engines and schema migrations (Alembic, run from inside the package)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crmkit.errors import ConfigError, ValidationError
from crmkit.files_private import create_private_database
from crmkit.storage.types import INT64_MAX

DEFAULT_URL = "sqlite:///crmkit.db"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and a bare file path as well as full SQLAlchemy URLs."""
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL sync is durable at commit under WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


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
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        create_private_database(parsed.database)
        event.listen(engine, "connect", _sqlite_pragmas)
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
    "make_engine",
    "normalize_url",
    "upgrade",
]
