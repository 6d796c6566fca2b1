"""``column IN (values)`` for long lists of values.

SQLAlchemy renders ``in_`` with one placeholder per value. On PostgreSQL a 5,000-id list
then costs more to render and for psycopg to split than the query itself (a profile of
the Top 10% recomputation spent 40% there), so there the list goes as one array
parameter: ``column = ANY(%s)``. SQLite keeps the IN list.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection
from sqlalchemy.dialects import postgresql

# Contacts read and written per round by work over many of them (a tick, a hook's changes,
# a page by id): bounds memory, and keeps SQLite's IN lists under its parameter cap.
ROWS_PER_ROUND = 5000


def one_of(conn: Connection, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column`` equals one of ``values``."""
    if conn.dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]
