"""Score moves written set-wise: one UPDATE of the scores, one INSERT of transitions.

A tick moves the stored score of thousands of contacts, each by its own amount, and
nothing else about them. Through the general change path each move loads the whole
contact (fields, facets, tags, account), asks the guard hooks and is applied to that
state: 0.2 to 0.8 ms a contact. Here a round of contacts costs one read of their score
and version, one bulk UPDATE and one bulk INSERT, with the very rows the change path
writes (same versions, same ``old``/``new`` text, same cause and time), so ``explain``
and a replay cannot tell the two apart. ``crmkit_on_changes`` is called with the same
transitions, once per round, as the change path calls it.

The caller falls back to the change path when a ``crmkit_guard_change`` hook is
implemented: a guard may refuse a change for one contact, and must be asked for each.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from crmkit.changes import missing_contacts
from crmkit.pipeline import (
    TRANSITION_ROW_COLUMNS,
    AfterChanges,
    Cause,
    fmt_number,
    transition_rows,
)
from crmkit.runtime import TenantRuntime
from crmkit.storage import counters
from crmkit.storage.bulk import BulkWriter
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import ContactRow, TransitionRow
from crmkit.storage.scope import TenantScope


def write_score_moves(
    conn: Connection,
    runtime: TenantRuntime,
    moves: Mapping[int, float],
    cause: Cause,
    now: datetime,
    after: AfterChanges | None,
) -> list[dict[str, Any]]:
    """Add ``moves[contact]`` to each contact's stored score, in rounds of
    :data:`ROWS_PER_ROUND` in the order given; returns the transitions written.

    A missing contact raises :class:`~crmkit.errors.NotFoundError` before its round
    writes anything (the whole transaction is then rolled back by the caller)."""
    scope = TenantScope(runtime.tenant_id)
    tenant = runtime.tenant_id
    c = ContactRow.__table__.c
    writer = BulkWriter(conn)
    ids = list(moves)
    made: list[dict[str, Any]] = []
    for start in range(0, len(ids), ROWS_PER_ROUND):
        part = ids[start : start + ROWS_PER_ROUND]
        stored = {
            row[0]: (row[1], row[2])
            for row in conn.execute(
                scope.select(c.id, c.score, c.version).where(one_of(conn, c.id, part))
            )
        }
        missing_contacts(stored, part, runtime.name)
        updates: list[tuple[Any, ...]] = []
        transitions: list[dict[str, Any]] = []
        for contact in part:
            score, version = stored[contact]
            new_score = score + moves[contact]
            if new_score == score:
                continue
            version += 1
            updates.append((new_score, version, tenant, contact))
            transitions.append(
                {
                    "tenant_id": tenant,
                    "contact_id": contact,
                    "version": version,
                    "target": "score",
                    "name": "score",
                    "old": fmt_number(score),
                    "new": fmt_number(new_score),
                    "cause_type": cause.type,
                    "pack": cause.pack,
                    "pack_version": cause.pack_version,
                    "rule": cause.rule,
                    "actor": cause.actor,
                    "event_id": cause.event_id,
                    "at": now,
                }
            )
        _write_round(conn, writer, tenant, updates, transitions)
        if after is not None and transitions:
            after(conn, list(transitions), [])
        made.extend(transitions)
    return made


def _write_round(
    conn: Connection,
    writer: BulkWriter,
    tenant: int,
    updates: list[tuple[Any, ...]],
    transitions: list[dict[str, Any]],
) -> None:
    """What :func:`crmkit.pipeline.persist` writes for contacts whose score alone moved."""
    if not updates:
        return
    writer.update(ContactRow, ("score", "version"), ("tenant_id", "id"), updates)
    writer.insert(TransitionRow, TRANSITION_ROW_COLUMNS, transition_rows(conn, tenant, transitions))
    counters.allocate(conn, tenant, "state")
