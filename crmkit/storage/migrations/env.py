"""Alembic environment: crmkit passes its engine in ``config.attributes``.

The whole upgrade, every pending migration and the version stamp, is one transaction:
a crash anywhere leaves the database at the revision it started from, never between
two. Being set up here rather than in each migration, this covers future ones too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine, text

from crmkit.errors import ConfigError
from crmkit.storage.models import Base


@contextmanager
def _sqlite_transaction(connection: Connection) -> Iterator[None]:
    """One SQLite transaction around everything, DDL included, with foreign keys off.

    The sqlite3 driver's legacy transaction control never begins a transaction for DDL,
    so each CREATE or DROP would commit on its own; the driver is told to keep out
    (``isolation_level = None``) and BEGIN is issued here, as SQLAlchemy's SQLite notes
    recommend. SQLite changes a table by copying it and dropping the old one, which its
    foreign keys refuse once other tables point at rows, so they are off meanwhile; the
    pragma is ignored inside a transaction, hence set before BEGIN and restored after.
    """
    raw: Any = connection.connection.driver_connection
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    legacy = raw.isolation_level
    raw.isolation_level = None
    try:
        # IMMEDIATE takes the write lock now: a second upgrade waits for this one, and
        # then finds the database already at head, instead of failing half-way.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield
        _check_foreign_keys(connection)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        raw.isolation_level = legacy
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def _check_foreign_keys(connection: Connection) -> None:
    """Restore, before commit, the guarantee the copy ran without."""
    broken = connection.execute(text("PRAGMA foreign_key_check")).all()
    if broken:
        raise ConfigError(f"the upgrade would break foreign keys, so nothing changed: {broken[:5]}")


@contextmanager
def _transaction(connection: Connection) -> Iterator[None]:
    """The transaction the upgrade runs in. Begun here, it is external to Alembic, which
    then neither opens one per migration nor commits in between."""
    if connection.dialect.name == "sqlite":
        with _sqlite_transaction(connection):
            yield
    else:
        # PostgreSQL's DDL is transactional: one transaction holds it all.
        with connection.begin():
            yield


def run_migrations(engine: Engine) -> None:
    with engine.connect() as connection, _transaction(connection):
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run_migrations(context.config.attributes["engine"])
