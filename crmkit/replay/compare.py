"""Comparing a replay's contacts with the tenant's, value by value, with the change
that set each value on either side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func

from crmkit.clock import as_utc
from crmkit.pipeline import Cause, ContactState, load_states
from crmkit.replay.history import History
from crmkit.replay.values import flatten, touches
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import ContactFacetRow, TransitionRow
from crmkit.storage.scope import TenantScope


@dataclass
class ValueDifference:
    """One value that ended differently: now, after the replay, and the change that
    set each (``None``: it was never changed)."""

    what: str
    now: Any
    replayed: Any
    now_by: str | None
    replayed_by: str | None


@dataclass
class ContactDifference:
    contact_id: int
    name: str
    values: list[ValueDifference]


def compare(
    conn: Connection, tenant_id: int, history: History, facets: set[str] | None
) -> list[ContactDifference]:
    scope = TenantScope(tenant_id)
    ids = sorted(history.contacts)
    replayed: dict[int, ContactState] = {}
    for start in range(0, len(ids), ROWS_PER_ROUND):
        replayed.update(load_states(conn, scope, ids[start : start + ROWS_PER_ROUND]))
    differing: dict[int, tuple[list[str], dict[str, Any], dict[str, Any]]] = {}
    for contact_id in ids:
        now = flatten(history.contacts[contact_id].state, facets)
        again = flatten(replayed[contact_id], facets) if contact_id in replayed else {}
        keys = [k for k in sorted(set(now) | set(again)) if now.get(k) != again.get(k)]
        if keys:
            differing[contact_id] = (keys, now, again)
    scratch_log = _transitions(conn, scope, list(differing))
    out = []
    for contact_id, (keys, now, again) in differing.items():
        contact = history.contacts[contact_id]
        log = scratch_log.get(contact_id, [])
        out.append(
            ContactDifference(
                contact_id,
                f"{contact.state.first_name} {contact.state.last_name}".strip(),
                [
                    ValueDifference(
                        key,
                        now.get(key),
                        again.get(key),
                        _set_by(contact.transitions, key),
                        _set_by(log, key),
                    )
                    for key in keys
                ],
            )
        )
    return out


def _transitions(
    conn: Connection, scope: TenantScope, ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    t = TransitionRow.__table__
    for start in range(0, len(ids), ROWS_PER_ROUND):
        part = ids[start : start + ROWS_PER_ROUND]
        for row in conn.execute(
            scope.select(t).where(one_of(conn, t.c.contact_id, part)).order_by(t.c.version)
        ).mappings():
            found.setdefault(row["contact_id"], []).append(dict(row))
    return found


def _set_by(transitions: list[dict[str, Any]], key: str) -> str | None:
    """The cause of the last change of ``key``, with its event or tick."""
    for t in reversed(transitions):
        if touches(t, key):
            cause = Cause(t["cause_type"], t["pack"], t["pack_version"], t["rule"], t["actor"])
            text = cause.describe()
            if t["event_id"]:
                return f"{text}, event {t['event_id']}"
            if t["rule"]:
                return f"{text}, tick at {as_utc(t['at']):%Y-%m-%d %H:%M}"
            return text
    return None


def facet_counts(conn: Connection, tenant_id: int, facets: list[str]) -> dict[str, dict[str, int]]:
    """How many contacts hold each value of ``facets``, by facet and value."""
    if not facets:
        return {}
    scope = TenantScope(tenant_id)
    f = ContactFacetRow.__table__.c
    counts: dict[str, dict[str, int]] = {name: {} for name in facets}
    for facet, value, count in conn.execute(
        scope.select(f.facet, f.value, func.count())
        .where(f.facet.in_(facets))
        .group_by(f.facet, f.value)
        .order_by(f.facet, f.value)
    ):
        counts[facet][value] = count
    return counts
