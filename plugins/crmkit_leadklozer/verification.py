"""The verifier: the score state checked against a full recomputation from the log.

``crmkit leadklozer verify-scores`` runs it. At the moment of the tenant's last tick,
each contact's parts and due points must equal the worth of its engagements recomputed
from the event log (up to rounding), and the share of them its stored score holds may
lag them by less than :data:`~crmkit_leadklozer.score_state.SCORE_STEP`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from sqlalchemy import Connection, func

from crmkit.plugin_api import TenantScope
from crmkit_leadklozer.score_state import SCORE_STEP, Clock, engagements, read_clock
from crmkit_leadklozer.scoring import Scoring
from crmkit_leadklozer.tables import ScoreDueRow, ScorePartRow

# Floating-point sums in another order differ in their last digits, no more.
TOLERANCE = 1e-6


class Difference(NamedTuple):
    """A contact whose state disagrees with the log: the worth recomputed from the log,
    the worth the state has, and how much of the state the stored score holds."""

    contact: int
    from_log: float
    in_state: float
    held: float


def verify(
    conn: Connection, scope: TenantScope, table: Scoring
) -> tuple[Clock | None, list[Difference]]:
    """The tenant's clock (None: no tick has built the state yet) and every contact
    whose state is wrong, by id."""
    clock = read_clock(conn, scope)
    if clock is None:
        return None, []
    from_log: dict[int, float] = defaultdict(float)
    for _, contact, data, at in engagements(conn, scope, 0, clock.seq):
        from_log[contact] += table.worth(data, at, clock.at)
    in_state: dict[int, float] = defaultdict(float)
    held: dict[int, float] = defaultdict(float)
    p, d = ScorePartRow.__table__.c, ScoreDueRow.__table__.c
    for contact, value, applied in conn.execute(
        scope.select(p.contact_id, func.sum(p.value), func.sum(p.applied)).group_by(p.contact_id)
    ):
        in_state[contact] += value
        held[contact] += applied
    for contact, points in conn.execute(
        scope.select(d.contact_id, func.sum(d.points)).group_by(d.contact_id)
    ):
        in_state[contact] += points
        held[contact] += points
    wrong = []
    for contact in sorted(set(from_log) | set(in_state)):
        expected, found, share = from_log[contact], in_state[contact], held[contact]
        off = abs(expected - found) > TOLERANCE * max(1.0, abs(expected))
        if off or abs(found - share) >= SCORE_STEP + TOLERANCE:
            wrong.append(Difference(contact, expected, found, share))
    return clock, wrong
