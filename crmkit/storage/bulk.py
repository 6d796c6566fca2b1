"""Bulk reads and writes straight through the database driver, for the ingest hot path.

SQLAlchemy's per-row parameter processing costs more than the database itself when
thousands of rows are written per batch, so these statements are rendered once per
dialect and handed to the driver's ``executemany`` with values already in the form
the column types would produce (UTC text on SQLite, JSON text or Jsonb).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, cast

import orjson
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Connection, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

from crmkit.storage.lists import ROWS_PER_ROUND
from crmkit.storage.types import UTCDateTime

# From this many rows on, PostgreSQL inserts go as one unnest() statement.
UNNEST_FROM = 20


def _json_text(value: Any) -> str:
    # orjson is ten times faster than json here, and its output is plain JSON text.
    return orjson.dumps(value).decode()


@lru_cache(maxsize=256)
def _sqlite_time(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DATETIME stores: naive UTC, always with microseconds.

    Cached: a batch shares a handful of times (received, recorded, transition times).
    """
    if value is None:
        return None
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


class BulkWriter:
    """Renders INSERT / UPDATE statements for one connection's dialect."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def _converter(self, table: Table, column: str) -> Any:
        kind = table.c[column].type
        if isinstance(kind, UTCDateTime):
            return _sqlite_time if self.sqlite else None
        if isinstance(kind, JSON):
            return _json_text if self.sqlite else Jsonb
        return None

    def insert(
        self, model: type[DeclarativeBase], columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """INSERT ``rows`` (tuples in ``columns`` order)."""
        table = _table(model)
        if not rows:
            return
        if not self.sqlite and len(rows) >= UNNEST_FROM:
            self._insert_unnest(table, columns, rows)
            return
        converters = {i: f for i, c in enumerate(columns) if (f := self._converter(table, c))}
        if converters:
            # Column by column: map() over a column is cheaper than rebuilding each row.
            cols = list(zip(*rows, strict=True))
            for index, convert in converters.items():
                cols[index] = tuple(map(convert, cols[index]))
            rows = list(zip(*cols, strict=True))
        marks = ", ".join([self.mark] * len(columns))
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
        self.conn.exec_driver_sql(sql, list(rows))

    def _insert_unnest(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """PostgreSQL: one statement with an array per column. psycopg's executemany
        sends a statement per row, which dominated writing thousands of events."""
        unnest, arrays = self._unnest(table, columns, rows)
        values = ", ".join(_value(table, name, "") for name in columns)
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"SELECT {values} FROM {unnest} AS v ({', '.join(columns)})"
        )
        self._send_arrays(sql, arrays)

    def _unnest(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> tuple[str, list[list[Any]]]:
        """``unnest(%b::T1[], %b::T2[], ...)`` and its arrays, one per column. JSON
        values go as a text[] of orjson text for :func:`_value` to cast: psycopg's
        jsonb[] dumping measured slower than the row-by-row executemany."""
        arrays: list[list[Any]] = [list(col) for col in zip(*rows, strict=True)]
        types = []
        for index, name in enumerate(columns):
            if isinstance(table.c[name].type, JSON):
                arrays[index] = [_json_text(value) for value in arrays[index]]
                types.append("text")
            else:
                types.append(table.c[name].type.compile(dialect=self.conn.dialect))
        return "unnest(" + ", ".join(f"%b::{t}[]" for t in types) + ")", arrays

    def _send_arrays(self, sql: str, arrays: Sequence[Any]) -> None:
        """Run ``sql`` with one array (or scalar) per ``%b`` placeholder, in psycopg's
        binary format:
        text-format arrays are quoted element by element with a regular expression,
        which measured as costly as the insert itself."""
        driver = cast(psycopg.Connection[Any], self.conn.connection.driver_connection)
        try:
            with driver.cursor(binary=True) as cursor:
                cursor.execute(sql, tuple(arrays))
        except psycopg.Error as exc:
            # As SQLAlchemy would raise it (IntegrityError...), for the callers that retry
            # or report; the arrays are left out of the message.
            raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc

    def update(
        self,
        model: type[DeclarativeBase],
        set_columns: Sequence[str],
        key_columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """UPDATE by key; each row is the new values followed by the key values."""
        table = _table(model)
        if not rows:
            return
        if self.sqlite:
            sets = ", ".join(f"{c} = ?" for c in set_columns)
            keys = " AND ".join(f"{c} = ?" for c in key_columns)
            self.conn.exec_driver_sql(f"UPDATE {table.name} SET {sets} WHERE {keys}", list(rows))
            return
        # PostgreSQL: one statement joining the new values unnested from one array per
        # column, instead of one round of planning and execution per row. A key column
        # with one value in every row (the tenant, a facet's name) is bound once as a
        # scalar: unnested, the planner cannot know it is constant, and it chose a merge
        # join on those columns with the contact id only as a join filter (measured:
        # 10^9 comparisons per 5,000-row statement on a large tenant).
        columns = [*set_columns, *key_columns]
        constant = [
            index
            for index in range(len(set_columns), len(columns))
            if len({row[index] for row in rows}) == 1
        ]
        varying = [i for i in range(len(columns)) if i not in constant]
        names = [columns[i] for i in varying]
        unnest, arrays = self._unnest(table, names, [[row[i] for i in varying] for row in rows])
        sets = ", ".join(f"{c} = {_value(table, c, 'v.')}" for c in set_columns)
        fixed = [columns[i] for i in constant]
        keys = " AND ".join(
            [f"t.{c} = %b" for c in fixed]
            + [f"t.{c} = v.{c}" for c in key_columns if c not in fixed]
        )
        sql = (
            f"UPDATE {table.name} AS t SET {sets} FROM {unnest} "
            f"AS v ({', '.join(names)}) WHERE {keys}"
        )
        # The unnest's arrays come first in the statement, the scalars after them.
        self._send_arrays(sql, [*arrays, *(rows[0][i] for i in constant)])

    def delete(
        self,
        model: type[DeclarativeBase],
        key_columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        table = _table(model)
        if not rows:
            return
        keys = " AND ".join(f"{c} = {self.mark}" for c in key_columns)
        self.conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE {keys}", list(rows))


def present(
    conn: Connection,
    model: type[DeclarativeBase],
    column: str,
    tenant_id: int,
    values: Sequence[Any],
) -> set[Any]:
    """The ``values`` found in ``column`` of the tenant's rows of ``model``.

    Rendered by hand: SQLAlchemy's expanding IN list cost more to compile for a batch
    of 5,000 event ids than the index lookups themselves.
    """
    name = _table(model).name
    if not values:
        return set()
    if conn.dialect.name == "postgresql":
        sql = f"SELECT {column} FROM {name} WHERE tenant_id = %s AND {column} = ANY(%s)"
        return {row[0] for row in conn.exec_driver_sql(sql, (tenant_id, list(values)))}
    found: set[Any] = set()
    for start in range(0, len(values), ROWS_PER_ROUND):
        part = tuple(values[start : start + ROWS_PER_ROUND])
        marks = ",".join("?" * len(part))
        sql = f"SELECT {column} FROM {name} WHERE tenant_id = ? AND {column} IN ({marks})"
        found.update(row[0] for row in conn.exec_driver_sql(sql, (tenant_id, *part)))
    return found


def _value(table: Table, name: str, prefix: str) -> str:
    """A column's value taken from an unnest() row: JSON arrives as text (see _unnest)."""
    return f"{prefix}{name}::jsonb" if isinstance(table.c[name].type, JSON) else prefix + name


def _table(model: type[DeclarativeBase]) -> Table:
    return cast(Table, model.__table__)
