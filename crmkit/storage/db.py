"""Database engines and schema migrations (Alembic, run from inside the package)."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from typing import Any

import alembic
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError, to_tuple
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from crmkit.errors import BusyError, ConfigError, ValidationError
from crmkit.files_private import create_private_database
from crmkit.storage import migrations
from crmkit.storage.models import Base
from crmkit.storage.types import INT64_MAX

DEFAULT_URL = "sqlite:///crmkit.db"
_ALEMBIC = tuple(int(part) for part in alembic.__version__.split(".")[:2])


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
        create_private_database(parsed.database)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "connect", _postgres_lock_timeout)
    event.listen(engine, "handle_error", _busy)
    event.listen(engine, "before_cursor_execute", _refuse_unstorable)
    return engine


def _alembic_config(engine: Engine | None, locations: Sequence[str] = ()) -> Config:
    """Alembic's configuration: crmkit's own revisions, and with ``locations`` the
    folders of the plugins' branches (``crmkit_register_migrations``)."""
    config = Config()
    config.set_main_option("script_location", "crmkit.storage:migrations")
    if locations:
        core = os.path.join(os.path.dirname(migrations.__file__), "versions")
        # Alembic 1.16 renamed the option; older releases read only the old name.
        separator = "path_separator" if _ALEMBIC >= (1, 16) else "version_path_separator"
        config.set_main_option(separator, "os")
        # ConfigParser reads % as interpolation: a path holding one is written doubled.
        joined = os.pathsep.join([core, *locations]).replace("%", "%%")
        config.set_main_option("version_locations", joined)
    if engine is not None:  # migrations/env.py runs on it; reading scripts needs none
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, locations: Sequence[str] = ()) -> None:
    """Create or upgrade the schema to the newest migration: all pending migrations in
    one transaction (see migrations/env.py), so a failure or a crash changes nothing.

    A failure is a :class:`ConfigError` of one line; when the tables do not match the
    revision the database records (as an upgrade by an older, non-atomic crmkit could
    leave them when interrupted), it names what does not match. ``locations`` are the
    plugins' migration folders: their branches are upgraded to their heads too, in the
    same transaction.
    """
    try:
        start = current_revision(engine, locations)
    except DBAPIError as exc:
        raise ConfigError(f"cannot open the database {engine.url!r}: {_first_line(exc)}") from None
    try:
        command.upgrade(_alembic_config(engine, locations), "heads")
    except DBAPIError as exc:
        raise ConfigError(_upgrade_failure(engine, start, exc)) from None


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__


def _upgrade_failure(engine: Engine, start: str | None, exc: DBAPIError) -> str:
    at = f"revision {start}" if start else "no crmkit revision"
    reason = (
        f"cannot upgrade the database from {at} to {head_revision()}: "
        f"{_first_line(exc)}; nothing was changed"
    )
    extra, missing = _mismatch(engine, start)
    if not extra and not missing:
        return reason
    found = " and ".join(
        f"{label} {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}"
        for label, names in (("already has", extra), ("lacks", missing))
        if names
    )
    return (
        f"{reason}. It records {at} but {found}: an upgrade by an older crmkit, which "
        "did not upgrade atomically, was interrupted part-way; restore the backup taken "
        "before it"
    )


def _mismatch(engine: Engine, revision: str | None) -> tuple[list[str], list[str]]:
    """The crmkit tables and columns the database has beyond ``revision``'s schema, and
    those of it that it lacks. The expected schema is built in a scratch in-memory
    database, only on this failure path."""
    expected: dict[str, set[str]] = {}
    if revision is not None:
        scratch = make_engine("sqlite://")
        try:
            command.upgrade(_alembic_config(scratch), revision)
            expected = _columns(scratch)
        finally:
            scratch.dispose()
    known = set(Base.metadata.tables) | set(expected)
    actual = {name: cols for name, cols in _columns(engine).items() if name in known}
    return _difference(actual, expected), _difference(expected, actual)


def _columns(engine: Engine) -> dict[str, set[str]]:
    found = inspect(engine)
    return {
        name: {column["name"] for column in found.get_columns(name)}
        for name in found.get_table_names()
        if name != "alembic_version"
    }


def _difference(having: dict[str, set[str]], other: dict[str, set[str]]) -> list[str]:
    """``table`` for the tables of ``having`` not in ``other``, ``table.column`` for
    the columns of their shared tables not in ``other``."""
    tables = sorted(set(having) - set(other))
    columns = sorted(
        f"{name}.{column}"
        for name in set(having) & set(other)
        for column in having[name] - other[name]
    )
    return [f"table {name}" for name in tables] + [f"column {name}" for name in columns]


@functools.lru_cache(maxsize=32)
def _scripts(locations: tuple[str, ...]) -> ScriptDirectory:
    """The revision scripts of the core and of the plugin branches in ``locations``.

    Reading them imports every revision file (0.1 to 0.3 s); they do not change while
    a process runs, and every CRM checks its schema once, so they are read once.
    """
    return ScriptDirectory.from_config(_alembic_config(None, locations))


def current_heads(engine: Engine) -> tuple[str, ...]:
    """Every revision the database records: the core's and each plugin branch's."""
    with engine.connect() as connection:
        return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def _reached(engine: Engine, locations: Sequence[str]) -> set[str]:
    """Every revision the database has passed: those its version table records and
    their ancestors, dependencies included (Alembic records a revision that a plugin
    branch depends on only through that branch's revision)."""
    script = _scripts(tuple(locations))
    seen: set[str] = set()
    pending = list(current_heads(engine))
    while pending:
        revision = pending.pop()
        if revision in seen:
            continue
        seen.add(revision)
        try:
            found = script.get_revision(revision)
        except CommandError:
            raise ConfigError(
                f"the database records revision {revision!r}, which neither crmkit nor an "
                "installed plugin knows: install the plugin whose tables it holds"
            ) from None
        if found is not None:
            pending += [*to_tuple(found.down_revision, ()), *to_tuple(found.dependencies, ())]
    return seen


def current_revision(engine: Engine, locations: Sequence[str] = ()) -> str | None:
    """The core schema's revision. ``locations`` are the plugin branches' folders, needed
    once the database records revisions of theirs (a :class:`ConfigError` names a
    revision nobody knows)."""
    core = _scripts(()).walk_revisions()
    reached = _reached(engine, locations)
    return next((s.revision for s in core if s.revision in reached), None)


def at_heads(engine: Engine, locations: Sequence[str] = ()) -> bool:
    """Whether the core and every plugin branch in ``locations`` are at their newest
    revision: nothing is left for ``upgrade`` to do."""
    heads = _scripts(tuple(locations)).get_heads()
    return set(heads) <= _reached(engine, locations)


def head_revision() -> str | None:
    """The newest revision of the core schema."""
    return _scripts(()).get_current_head()


__all__ = [
    "DEFAULT_URL",
    "at_heads",
    "current_heads",
    "current_revision",
    "head_revision",
    "lock_timeout",
    "make_engine",
    "normalize_url",
    "upgrade",
]
