"""One writer per tenant at a time, and retrying where the database asks for it.

Every write of contact state reads the contacts, runs rules in Python and writes the
result back. Two writers doing that for the same contact at once would each start from
the same score and one addition would be lost. So a write transaction first takes its
tenant's write lock, before it reads anything it will write back:

- PostgreSQL: a transaction-scoped advisory lock keyed by the schema and the tenant id
  (advisory locks are per database; the schema keeps crmkits in different schemas of
  one database apart). Tenants still write in parallel; readers never wait for it.
- SQLite: the database's own write lock, taken up front by a write that changes nothing.
  (pysqlite begins the transaction at the first write, so without it the reads before
  the first write would not belong to the transaction at all.)

Lock waits are ordered (one lock per transaction, taken first), so writers do not
deadlock one another. A serialization failure or deadlock can still come from a
database under other load; :func:`retrying` runs the whole transaction again then.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, text, update
from sqlalchemy.exc import DBAPIError

from crmkit.errors import BusyError
from crmkit.storage.models import TenantRow

T = TypeVar("T")

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
DEFAULT_ATTEMPTS = 8


def lock_tenant(conn: Connection, tenant_id: int) -> None:
    """Take ``tenant_id``'s write lock until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('crmkit:' || current_schema()), :id)"),
            {"id": tenant_id},
        )
    else:
        conn.execute(update(TenantRow).where(TenantRow.id == tenant_id).values(id=TenantRow.id))


def is_retryable(exc: BaseException) -> bool:
    """Whether the database asked for the transaction to be run again."""
    if isinstance(exc, BusyError):
        return True
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in RETRYABLE_SQLSTATES
    # SQLite reports a lock held past busy_timeout as "database is locked".
    return "database is locked" in str(exc.orig)


def retrying(work: Callable[[], T], attempts: int = DEFAULT_ATTEMPTS) -> T:
    """Run ``work`` (one whole transaction) again while the database asks for a retry.

    Waits grow with each attempt, with jitter so that writers that failed together do
    not retry together. The last failure is raised as it came.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except (DBAPIError, BusyError) as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["is_retryable", "lock_tenant", "retrying"]
