"""The score refresh and the Top 10%, run at each tick, and the full recomputation.

Top 10%: with n active (not archived) contacts, k = max(1, ceil(n / 10)); the threshold
is the k-th highest score. A contact is in the Top 10% when its score is at least the
threshold and above zero. Ties at the threshold are all in (so more than 10% can be);
a tenant with fewer than ten contacts has k = 1: its best scorer(s), if above zero.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from sqlalchemy import Connection, func, select

from crmkit.plugin_api import (
    ChangeContext,
    ContactFacetRow,
    ContactRow,
    EventRow,
    SetFacet,
    TenantScope,
)
from crmkit_leadklozer.causes import pack_cause
from crmkit_leadklozer.score_state import AGING_RULE, advance
from crmkit_leadklozer.scoring import scoring


def recompute_scores(
    conn: Connection,
    scope: TenantScope,
    at: datetime,
    contact_ids: list[int] | None = None,
    *,
    upto: int | None = None,
) -> dict[int, float]:
    """Every contact's engagement share at ``at`` plus its status points, from the whole
    event log (``upto``: only the events with a sequence number up to it). The tick
    does not use this (see :mod:`.score_state`); the verifier and ``leadklozer score``
    do."""
    table = scoring()
    c, e, f = ContactRow.__table__.c, EventRow.__table__.c, ContactFacetRow.__table__.c
    ids_query = scope.select(c.id)
    if contact_ids is not None:
        ids_query = ids_query.where(c.id.in_(contact_ids))
    totals: dict[int, float] = defaultdict(float)
    for contact_id in conn.scalars(ids_query):
        totals[contact_id] = 0.0
    events = scope.select(e.contact_id, e.data, e.occurred_at).where(
        e.kind == "engagement", e.status == "applied"
    )
    if upto is not None:
        events = events.where(e.seq <= upto)
    statuses = scope.select(f.contact_id, f.value).where(f.facet == "status")
    if contact_ids is not None:
        events = events.where(e.contact_id.in_(contact_ids))
        statuses = statuses.where(f.contact_id.in_(contact_ids))
    # Streamed in the order of the event log, so the sum is the same every time.
    for contact_id, data, occurred_at in conn.execute(events.order_by(e.contact_id, e.seq)):
        if contact_id in totals:
            totals[contact_id] += table.worth(data or {}, occurred_at, at)
    for contact_id, status in conn.execute(statuses):
        if contact_id in totals:
            totals[contact_id] += table.status_points(status)
    return dict(totals)


def refresh_scores(context: ChangeContext) -> int:
    """Move every stored score whose engagement share changed by ``context.now``
    (:func:`crmkit_leadklozer.score_state.advance`); returns how many moved."""
    moves = advance(context.connection, context.scope, scoring(), context.now)
    # Set-wise (see ChangeContext.move_scores): a score move touches nothing else.
    context.move_scores(dict(sorted(moves.items())), like=pack_cause(context, AGING_RULE))
    return len(moves)


def top_ten(conn: Connection, scope: TenantScope) -> set[int]:
    """The ids of the contacts in the Top 10% now (see the module's definition)."""
    c = ContactRow.__table__.c
    active = scope.select(c.id, c.score).where(c.archived.is_(False))
    n = int(conn.scalar(select(func.count()).select_from(active.subquery())) or 0)
    if n == 0:
        return set()
    k = max(1, math.ceil(n / 10))
    threshold = conn.scalar(
        scope.select(c.score)
        .where(c.archived.is_(False))
        .order_by(c.score.desc())
        .offset(k - 1)
        .limit(1)
    )
    if threshold is None:
        return set()
    return set(
        conn.scalars(
            scope.select(c.id).where(c.archived.is_(False), c.score >= threshold, c.score > 0)
        )
    )


def refresh_top_ten(context: ChangeContext) -> int:
    """Set ``top_10`` to yes for the Top 10% and no for everyone else; returns changes."""
    conn, scope = context.connection, context.scope
    f = ContactFacetRow.__table__.c
    now_in = top_ten(conn, scope)
    was_in = set(
        conn.scalars(scope.select(f.contact_id).where(f.facet == "top_10", f.value == "yes"))
    )
    like = pack_cause(context, "top 10%")
    joined = sorted(now_in - was_in)
    left = sorted(was_in - now_in)
    if joined:
        context.apply(joined, [SetFacet("top_10", "yes")], like=like)
    if left:
        context.apply(left, [SetFacet("top_10", "no")], like=like)
    return len(joined) + len(left)
