"""Scratch databases for tests: fresh PostgreSQL schemas, migrated templates, snapshots.

Migrating a database runs every Alembic migration (half a second to over a second on
PostgreSQL), which used to be most of a database test's time. A test session therefore
migrates once into a template and hands each test a copy:

* SQLite: :func:`migrated_sqlite` migrates one file; :func:`copy_sqlite` copies it for a
  test (a file copy takes well under a millisecond).
* PostgreSQL: :class:`ReusableSchema` migrates one schema per test process and empties
  it between tests (``DELETE`` of every table, sequences restarted, ``TRUNCATE`` of the
  tables the planner has analysed, so their row estimates are as a fresh table's). On
  this project's CI machine emptying took 5 to 15 ms, where cloning a template database
  (``CREATE DATABASE ... TEMPLATE``) and dropping it took 0.15 to 1 s and a migration
  0.5 to 1.7 s. A test that changed the schema itself (its tables, columns, indexes,
  constraints, types, statistics objects or recorded revision) leaves a fingerprint that
  no longer matches: the schema is then dropped and migrated again, so the next test
  never sees what the previous one did.

Only schemas and files created here are ever dropped or written; the database named by
the base URL is only used, never altered.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmkit.storage.models import Base

if TYPE_CHECKING:
    from crmkit.core import CRM

POSTGRES_ENV = "CRMKIT_TEST_POSTGRES_URL"

#: Builds a CRM on a database URL; ``migrate()`` is called on it to build a template.
CRMFactory = Callable[[str], "CRM"]


def driver_url(url: str) -> str:
    """``postgresql://`` URLs use psycopg 3, the driver crmkit installs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema_url(base: str, schema: str) -> str:
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections live in a new, empty schema, dropped afterwards.

    Tests running side by side on one server then never see each other's tables.
    """
    base = driver_url(base_url)
    schema = f"crmkit_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield _schema_url(base, schema)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@contextmanager
def scratch_database(base_url: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database on ``base_url``'s server, dropped afterwards.

    A test process keeps its schemas there: the server's shared database, where every
    process creates and drops schemas, gathers dead catalog rows by the thousand, and a
    query of its catalogs took 0.2 s where a new database's took a few milliseconds.
    """
    base = sa.make_url(driver_url(base_url))
    name = f"crmkit_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {_quote(name)}"))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                # Only this process's own connections can be left (CRMs a test did not close).
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)"))
    finally:
        admin.dispose()


def _migrate(make_crm: CRMFactory, url: str) -> None:
    crm = make_crm(url)
    try:
        crm.migrate()
    finally:
        crm.close()


# ---------------------------------------------------------------------------- SQLite
def migrated_sqlite(path: Path, make_crm: CRMFactory) -> Path:
    """Migrate a new SQLite file at ``path`` with ``make_crm(url).migrate()``; returns it."""
    _migrate(make_crm, f"sqlite:///{path}")
    return path


def copy_sqlite(template: Path, path: Path) -> str:
    """Copy a closed template made by :func:`migrated_sqlite` to ``path``; its URL."""
    shutil.copyfile(template, path)
    for suffix in ("-wal", "-shm"):  # left only if a connection was never closed
        side = template.with_name(template.name + suffix)
        if side.exists():
            shutil.copyfile(side, path.with_name(path.name + suffix))
    return f"sqlite:///{path}"


# ------------------------------------------------------------------------ PostgreSQL
# One row per object of the current schema that a migration creates (read from the
# catalogs' own columns: their text forms cost ten times more), and nothing that use
# changes (row counts, planner estimates): equal texts mean equal schemas.
_FINGERPRINT = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = current_schema()),
rel AS (SELECT oid, relname FROM pg_class WHERE relnamespace = (SELECT oid FROM ns))
SELECT md5(coalesce(string_agg(item, E'\\n' ORDER BY item), '')) FROM (
    SELECT concat_ws(' ', 'rel', relname, relkind, relnatts, relchecks, relhastriggers,
                     reltype, relpersistence) AS item
        FROM pg_class WHERE relnamespace = (SELECT oid FROM ns)
    UNION ALL
    SELECT concat_ws(' ', 'column', rel.relname, attnum, attname, atttypid, atttypmod,
                     attnotnull, atthasdef, attisdropped, attidentity, attgenerated)
        FROM pg_attribute JOIN rel ON rel.oid = attrelid WHERE attnum > 0
    UNION ALL
    SELECT concat_ws(' ', 'default', rel.relname, adnum, adbin::text)
        FROM pg_attrdef JOIN rel ON rel.oid = adrelid
    UNION ALL
    SELECT concat_ws(' ', 'index', rel.relname, indkey::text, indisunique, indisprimary,
                     indexprs IS NOT NULL, indpred IS NOT NULL)
        FROM pg_index JOIN rel ON rel.oid = indexrelid
    UNION ALL
    SELECT concat_ws(' ', 'constraint', conname, contype, conkey::text, confkey::text,
                     confdeltype, confupdtype, convalidated)
        FROM pg_constraint WHERE connamespace = (SELECT oid FROM ns)
    UNION ALL
    SELECT concat_ws(' ', 'trigger', rel.relname, tgname, tgenabled)
        FROM pg_trigger JOIN rel ON rel.oid = tgrelid WHERE NOT tgisinternal
    UNION ALL
    SELECT concat_ws(' ', 'type', typname) FROM pg_type
        WHERE typnamespace = (SELECT oid FROM ns)
    UNION ALL
    SELECT concat_ws(' ', 'function', proname, pronargs) FROM pg_proc
        WHERE pronamespace = (SELECT oid FROM ns)
    UNION ALL
    SELECT concat_ws(' ', 'statistics', stxname) FROM pg_statistic_ext
        WHERE stxnamespace = (SELECT oid FROM ns)
) AS items
"""

_ANALYSED = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
  AND c.relkind = 'r' AND c.reltuples >= 0
"""


class ReusableSchema:
    """One migrated PostgreSQL schema, emptied for each test instead of migrated again.

    ``make_crm(url).migrate()`` builds it (so plugin-contributed migrations follow);
    :meth:`fresh` returns its URL after making it as a just-migrated schema is: no rows
    (other than the recorded revisions and rows the migrations wrote), sequences at their
    start, no planner row estimates; or, when the previous user changed the schema, a
    newly migrated one. :meth:`close` drops it.
    """

    def __init__(self, base_url: str, make_crm: CRMFactory, *, lock_timeout_s: int = 60):
        self.base = driver_url(base_url)
        self.make_crm = make_crm
        self.lock_timeout_s = lock_timeout_s
        self.schema = f"crmkit_test_{uuid.uuid4().hex[:12]}"
        self.url = _schema_url(self.base, self.schema)
        # One pooled connection, idle between tests: little of the server's limit.
        self.admin = sa.create_engine(self.url, pool_size=1, max_overflow=0)
        self.built = False
        self.rebuilds = 0
        self._kept: list[str] = []  # tables a just-migrated schema has rows in
        self._fingerprint = ""
        self._reset_sql = ""

    def _build(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {_quote(self.schema)} CASCADE"))
            conn.execute(sa.text(f"CREATE SCHEMA {_quote(self.schema)}"))
        _migrate(self.make_crm, self.url)
        with self.admin.begin() as conn:
            metadata = sa.MetaData()
            metadata.reflect(conn)
            tables = metadata.sorted_tables
            self._kept = [
                table.name
                for table in tables
                if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
            ]
            # Referencing tables first; sequences back to where the migrations left them.
            statements = [
                f"DELETE FROM {_quote(table.name)}"
                for table in reversed(tables)
                if table.name not in self._kept
            ]
            sequences = conn.execute(
                sa.text(
                    "SELECT sequencename, coalesce(last_value, start_value),"
                    " last_value IS NOT NULL"
                    " FROM pg_sequences WHERE schemaname = current_schema()"
                )
            ).all()
            statements += [
                f"SELECT setval('{_quote(self.schema)}.{_quote(name)}', {value}, "
                f"{'true' if called else 'false'})"
                for name, value, called in sequences
            ]
            self._reset_sql = ";\n".join(statements)
            self._fingerprint = self._current_fingerprint(conn)
        self.built = True

    def _current_fingerprint(self, conn: sa.Connection) -> str:
        parts = [str(conn.execute(sa.text(_FINGERPRINT)).scalar_one())]
        for table in self._kept:  # the recorded revisions at least
            rows = conn.execute(
                sa.text(
                    f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {_quote(table)} t"
                )
            ).scalar_one()
            parts.append(f"{table}:{rows}")
        return " ".join(parts)

    def _unchanged(self, conn: sa.Connection) -> bool:
        try:
            with conn.begin_nested():
                return self._current_fingerprint(conn) == self._fingerprint
        except sa.exc.ProgrammingError:  # a table the migrations filled is gone
            return False

    def fresh(self) -> str:
        """The schema's URL, as just migrated (see the class docstring)."""
        if self.built:
            with self.admin.begin() as conn:
                conn.execute(sa.text(f"SET LOCAL lock_timeout = '{self.lock_timeout_s}s'"))
                if self._unchanged(conn):
                    analysed = list(conn.scalars(sa.text(_ANALYSED)))
                    if analysed:
                        # A truncated table has no row estimate, as a new one; DELETE keeps it.
                        names = ", ".join(_quote(name) for name in analysed)
                        conn.exec_driver_sql(f"TRUNCATE {names} CASCADE")
                    if self._reset_sql:
                        conn.exec_driver_sql(self._reset_sql)
                    return self.url
            self.rebuilds += 1
        self._build()
        return self.url

    def close(self) -> None:
        """Drop the schema (it was created here) and the pooled connection."""
        try:
            with self.admin.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {_quote(self.schema)} CASCADE"))
        finally:
            self.admin.dispose()


def snapshot(crm: CRM) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every crmkit table, to show that a refused operation changed nothing."""
    with crm.db.connect() as conn:
        # A pack's own tables are in the metadata once any CRM of the process loaded the
        # pack; a CRM without it has no such tables.
        present = set(sa.inspect(conn).get_table_names())
        return {
            name: sorted(tuple(map(repr, row)) for row in conn.execute(sa.select(table)))
            for name, table in Base.metadata.tables.items()
            if name in present
        }


# ------------------------------------------------------ migrations already run once
Upgrade = Callable[[sa.Engine, Sequence[str]], None]


class MigrationTemplates:
    """Gives an empty database the schema a migration already built in this process.

    Most tests build a CRM of their own plugins on an empty database (``db_url`` hands
    them one: a database recording another plugin set's branches would be refused), and
    migrating it ran every Alembic script again: 0.2 s on SQLite, 0.5 s on PostgreSQL,
    a quarter of the suite's time. The scripts and the empty start being the same, so is
    the result; it is therefore built once per plugin set (the migration folders) and
    dialect, and then copied: SQLite's backup API copies the migrated file's pages into
    the new database, PostgreSQL replays the statements the migration sent, in one
    transaction. Only a database with no table at all is given a copy; any other
    (an upgrade from an older release, say) is migrated for real, as are the databases of
    tests marked ``empty_database`` (``active`` is then false), which test migrations.
    """

    def __init__(self, upgrade: Upgrade, folder: Path) -> None:
        self._upgrade = upgrade
        self._folder = folder
        self._sqlite: dict[tuple[str, ...], Path] = {}
        self._postgres: dict[tuple[str, ...], list[tuple[str, Any, bool]]] = {}
        self.active = True

    def upgrade(self, engine: sa.Engine, locations: Sequence[str] = ()) -> None:
        key = tuple(locations)
        dialect = engine.dialect.name
        if not self.active or dialect not in ("sqlite", "postgresql") or not _is_empty(engine):
            self._upgrade(engine, locations)
        elif dialect == "sqlite":
            self._sqlite_upgrade(engine, key)
        else:
            self._postgres_upgrade(engine, key)

    def _sqlite_upgrade(self, engine: sa.Engine, key: tuple[str, ...]) -> None:
        template = self._sqlite.get(key)
        if template is None:
            self._upgrade(engine, key)
            template = self._folder / f"migrated-{len(self._sqlite)}.db"
            _sqlite_backup(engine, template, into_file=True)
            self._sqlite[key] = template
        else:
            _sqlite_backup(engine, template, into_file=False)

    def _postgres_upgrade(self, engine: sa.Engine, key: tuple[str, ...]) -> None:
        sent = self._postgres.get(key)
        if sent is not None:
            with engine.begin() as conn:
                cursor: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                for statement, parameters, many in sent:
                    if many:
                        cursor.executemany(statement, parameters)
                    else:
                        cursor.execute(statement, parameters or None)
            return
        recorded: list[tuple[str, Any, bool]] = []

        def record(
            _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool
        ) -> None:
            recorded.append((statement, parameters, many))

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            self._upgrade(engine, key)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        self._postgres[key] = recorded


def _sqlite_backup(engine: sa.Engine, path: Path, *, into_file: bool) -> None:
    """Copy every page of ``engine``'s database into the file at ``path``, or back."""
    other = sqlite3.connect(path)
    try:
        with engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            source, target = (raw, other) if into_file else (other, raw)
            source.backup(target)
    finally:
        other.close()


def _is_empty(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return not sa.inspect(conn).get_table_names()
