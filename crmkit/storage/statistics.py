"""Planner statistics on PostgreSQL: for searches over event data, and after bulk writes.

A search such as ``engaged(event.data.channel == facebook) within 14 days`` becomes an
``EXISTS`` over events filtered on ``data ->> 'channel'``. PostgreSQL has no statistics
on a JSON key, so it guesses the filter keeps 0.5% of rows, concludes a page of 100
contacts cannot be found early, and plans a whole-table join: on a 10-million-event
tenant that took 0.5 to 1 s instead of 15 ms. Expression statistics (PostgreSQL 14+)
on the keys packs declare (``Pack.search_keys``) give it real frequencies. SQLite's
planner follows the query's shape and needs nothing.

A bulk write into tables that were never analysed (autovacuum off, or not yet run)
has the opposite problem: the foreign key checks of every inserted facet, tag and
transition row are planned once per session against a contacts table the planner
believes empty, as sequential scans, so each batch took longer than the last (an
import ran at 83 to 146 rows/s). :class:`GrowthStatistics` analyses the tables a bulk
write grows as autovacuum would, which also makes the server plan those checks again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Engine, text

from crmkit.packs import SEARCH_KEY

# CREATE STATISTICS on an expression arrived in PostgreSQL 14.
MIN_SERVER_MAJOR = 14


def statistics_name(key: str) -> str:
    return f"crmkit_events_data_{key.lower()}"


def ensure_search_statistics(engine: Engine, keys: Iterable[str]) -> list[str]:
    """Create the missing statistics for ``keys`` and analyse events if any were new.

    Returns the names created (none on SQLite or a server older than 14).
    """
    if engine.dialect.name != "postgresql":
        return []
    created = []
    with engine.begin() as conn:
        major = (conn.dialect.server_version_info or (0,))[0]
        if not isinstance(major, int) or major < MIN_SERVER_MAJOR:
            return []
        # Statistics live in the current schema, like the events table they describe.
        existing = set(
            conn.scalars(
                text(
                    "SELECT stxname FROM pg_statistic_ext WHERE stxnamespace ="
                    " (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
                )
            )
        )
        for key in sorted(set(keys)):
            if not SEARCH_KEY.fullmatch(key):  # packs check this; DDL must never trust it
                raise ValueError(f"search key {key!r} is not a plain name")
            name = statistics_name(key)
            if name in existing:
                continue
            conn.execute(text(f"CREATE STATISTICS {name} ON (data ->> '{key}') FROM events"))
            created.append(name)
        if created:
            conn.execute(text("ANALYZE events"))
    return created


# What a contact import grows: contacts and everything written with them (the import
# adds the tables of the plugins' list columns).
IMPORT_TABLES = (
    "contacts",
    "contact_facets",
    "contact_tags",
    "transitions",
    "accounts",
    "events",
)
# What an ingest grows: its events first, then what its rules change.
INGEST_TABLES = ("events", "transitions", "contact_facets", "contact_tags")
# Analyse once the rows written since exceed 50 + the table's rows when last analysed:
# autovacuum's threshold, but each time the table doubles instead of every 10%. The
# planner scales analysed counts by the table's current size, so what matters is that
# statistics exist; doubling keeps a million-row import to about ten ANALYZEs.
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE_FACTOR = 1.0


class GrowthStatistics:
    """Analyses ``tables`` during a bulk write whenever the rows written since the last
    analysis pass the threshold above for the first of them (the one the others'
    foreign keys point at). A no-op on SQLite.

    Call :meth:`wrote` inside the writing transaction, once the batch's rows of the
    first table are inserted and before the rows that point at them: the server plans
    a session's foreign key checks once, at the first check, so the first batch into
    an empty table must be analysed before it (measured: that batch alone took 8 s of
    a 14 s import of 40,000 rows). ANALYZE counts the transaction's own new rows.
    """

    def __init__(self, tables: Sequence[str] = IMPORT_TABLES) -> None:
        self.tables = tuple(tables)
        self.since = 0
        self.size: float | None = None  # the first table's rows when last analysed
        self.analysed = 0

    def wrote(self, conn: Connection, rows: int) -> None:
        """Count ``rows`` more written by this transaction; analyse if they are many."""
        if conn.dialect.name != "postgresql" or rows <= 0:
            return
        self.since += rows
        if self.size is None:
            self.size = self._estimate(conn)
        if self.since > ANALYZE_THRESHOLD + ANALYZE_SCALE_FACTOR * self.size:
            # Names from the constants above or a registered column, never from input.
            conn.execute(text(f"ANALYZE {', '.join(self.tables)}"))
            self.analysed += 1
            self.since = 0
            self.size = self._estimate(conn)

    def _estimate(self, conn: Connection) -> float:
        """The planner's row count of the first table (0 when never analysed)."""
        value = conn.scalar(
            text(
                "SELECT reltuples FROM pg_class WHERE relname = :name AND relnamespace ="
                " (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
            ),
            {"name": self.tables[0]},
        )
        return max(float(value or 0), 0.0)
