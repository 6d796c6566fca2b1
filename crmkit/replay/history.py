"""Reading what a replay needs of a tenant, in one consistent read.

The contacts as they are now, every transition, every event and tick run, the tenant's
packs, settings, custom fields and accounts. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from crmkit.pipeline import ContactState, load_states
from crmkit.storage.lists import ROWS_PER_ROUND
from crmkit.storage.models import (
    AccountRow,
    ContactRow,
    CustomFieldRow,
    EventRow,
    TenantRow,
    TickRunRow,
    TransitionRow,
)
from crmkit.storage.scope import TenantScope

if TYPE_CHECKING:
    from crmkit.context import TenantContext


@dataclass
class ContactHistory:
    """One contact now, and the transitions that made it so (in version order)."""

    state: ContactState
    created_at: datetime
    created_after_seq: int | None
    sms_note: str | None
    transitions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class History:
    tenant: str
    packs: list[str]
    facets: list[str]
    settings: dict[str, Any]
    field_types: dict[str, str]
    custom_fields: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    contacts: dict[int, ContactHistory]
    events: list[dict[str, Any]]
    ticks: list[dict[str, Any]]


@contextmanager
def snapshot_reads(ctx: TenantContext) -> Iterator[Connection]:
    """A connection whose reads all see one moment of the database, so a writer that
    commits during the read cannot tear the history."""
    with ctx.db.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            # pysqlite starts a transaction only before a write; a read-only one is
            # begun by hand so every SELECT reads the same snapshot.
            conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def read_history(ctx: TenantContext) -> History:
    with snapshot_reads(ctx) as conn:
        runtime = ctx.runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        settings = conn.scalar(select(TenantRow.settings).where(TenantRow.id == scope.tenant_id))
        cf = CustomFieldRow.__table__.c
        custom = [
            dict(row)
            for row in conn.execute(
                scope.select(cf.name, cf.label, cf.type, cf.choices, cf.created_at)
            ).mappings()
        ]
        a = AccountRow.__table__.c
        accounts = [
            dict(row)
            for row in conn.execute(
                scope.select(a.id, a.name, a.fields, a.created_at).order_by(a.id)
            ).mappings()
        ]
        contacts = _contacts(conn, scope)
        t = TransitionRow.__table__
        for row in conn.execute(scope.select(t).order_by(t.c.contact_id, t.c.version)).mappings():
            found = contacts.get(row["contact_id"])
            if found is not None:
                found.transitions.append(dict(row))
        e = EventRow.__table__.c
        events = [
            dict(row)
            for row in conn.execute(
                scope.select(
                    e.id,
                    e.seq,
                    e.contact_id,
                    e.kind,
                    e.data,
                    e.occurred_at,
                    e.recorded_at,
                    e.status,
                    e.error,
                    e.batch_seq,
                ).order_by(e.seq)
            ).mappings()
        ]
        k = TickRunRow.__table__.c
        ticks = [
            dict(row)
            for row in conn.execute(
                scope.select(k.seq, k.at, k.recorded_at).order_by(k.seq)
            ).mappings()
        ]
    return History(
        tenant=ctx.name,
        packs=[pack.ref for pack in runtime.packs],
        facets=list(runtime.facets),
        settings=dict(settings or {}),
        field_types={name: spec.type for name, spec in runtime.fields.items()},
        custom_fields=custom,
        accounts=accounts,
        contacts=contacts,
        events=events,
        ticks=ticks,
    )


def _contacts(conn: Connection, scope: TenantScope) -> dict[int, ContactHistory]:
    c = ContactRow.__table__.c
    extra = {
        row[0]: row[1:]
        for row in conn.execute(
            scope.select(c.id, c.created_at, c.created_after_seq, c.sms_note).order_by(c.id)
        )
    }
    ids = list(extra)
    found: dict[int, ContactHistory] = {}
    for start in range(0, len(ids), ROWS_PER_ROUND):
        for contact_id, state in load_states(
            conn, scope, ids[start : start + ROWS_PER_ROUND]
        ).items():
            created_at, after, note = extra[contact_id]
            found[contact_id] = ContactHistory(state, created_at, after, note)
    return found
