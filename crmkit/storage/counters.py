"""Per-tenant counters: ids of contacts, accounts, projects, notes, event sequence
numbers, and ``state``, which grows with every write of contact state."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from crmkit.storage.models import CounterRow


def allocate(conn: Connection, tenant_id: int, counter: str, count: int = 1) -> int:
    """Advance ``counter`` by ``count`` and return the first of the reserved values.

    The UPDATE takes the row lock, so concurrent writers never get the same value.
    """
    last = conn.execute(
        update(CounterRow)
        .where(CounterRow.tenant_id == tenant_id, CounterRow.name == counter)
        .values(value=CounterRow.value + count)
        .returning(CounterRow.value)
    ).scalar()
    if last is None:
        conn.execute(insert(CounterRow).values(tenant_id=tenant_id, name=counter, value=count))
        last = count
    return int(last) - count + 1


def current(conn: Connection, tenant_id: int, counter: str) -> int:
    value = conn.scalar(
        select(CounterRow.value).where(
            CounterRow.tenant_id == tenant_id, CounterRow.name == counter
        )
    )
    return int(value or 0)
