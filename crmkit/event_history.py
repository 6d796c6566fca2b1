"""What an event was and everything it changed, for ``explain`` and ``event record``.

A change a plugin's ``crmkit_on_changes`` makes in reply to a rule's change (points for
a new status, say) carries the same event id as the rule's change: reading the
transitions by event id gives every change the event caused, not only the rules' own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crmkit.applying import transition_out
from crmkit.context import TenantContext
from crmkit.schemas import TransitionOut
from crmkit.storage.lists import one_of
from crmkit.storage.models import EventRow, TransitionRow
from crmkit.storage.scope import TenantScope

# How long the short form of an event's data may be.
SHORT_DATA = 60


@dataclass(frozen=True)
class EventSummary:
    """An event as ``explain`` shows it beside each change it caused."""

    id: str
    contact_id: int
    kind: str
    data: dict[str, Any]
    occurred_at: datetime
    status: str

    @property
    def short(self) -> str:
        """``kind {data}``, the data cut to about :data:`SHORT_DATA` characters."""
        if not self.data:
            return self.kind
        text = json.dumps(self.data, sort_keys=True, default=str, ensure_ascii=False)
        if len(text) > SHORT_DATA:
            text = text[: SHORT_DATA - 1] + "…"
        return f"{self.kind} {text}"


def events_by_id(ctx: TenantContext, ids: Iterable[str]) -> dict[str, EventSummary]:
    """The tenant's events with these ids (ids it has not recorded are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    e = EventRow.__table__.c
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        rows = conn.execute(
            scope.select(e.id, e.contact_id, e.kind, e.data, e.occurred_at, e.status).where(
                one_of(conn, e.id, wanted)
            )
        ).all()
    return {
        row.id: EventSummary(
            row.id, row.contact_id, row.kind, dict(row.data or {}), row.occurred_at, row.status
        )
        for row in rows
    }


def changes_of_event(ctx: TenantContext, event_id: str) -> list[TransitionOut]:
    """Every change the event caused, in every contact, in the order they were made."""
    t = TransitionRow.__table__.c
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        rows = (
            conn.execute(
                scope.select(TransitionRow.__table__)
                .where(t.event_id == event_id)
                .order_by(t.contact_id, t.version)
            )
            .mappings()
            .all()
        )
    return [transition_out(dict(row)) for row in rows]
