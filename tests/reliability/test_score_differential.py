"""The incremental Smart Score against the full recomputation, at length.

Generated histories of ingested engagement batches (dated before and after the tick
that takes them in), statuses set by hand and ticks at random times (backwards too):
after every tick each stored score is its recomputation from the whole event log at
the tick's time (within the decay step), the verifier finds nothing, and the Top 10%
is the hand-written ranking of the stored scores.
"""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta, timezone
from typing import Any

from crmkit_leadklozer.ranking import recompute_scores
from crmkit_leadklozer.score_state import SCORE_STEP
from crmkit_leadklozer.scoring import scoring
from crmkit_leadklozer.verification import verify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import CRM
from crmkit.storage.scope import TenantScope
from crmkit.testing.properties import examples

CONTACTS = 12
START = datetime(2026, 3, 1, tzinfo=timezone.utc)
ENGAGEMENTS = [
    {"channel": "phone", "kind": "call"},
    {"channel": "facebook", "kind": "like"},
    {"channel": "web", "kind": "trial_signup"},
    {"channel": "email", "kind": "open"},
    {"channel": "sms", "kind": "reply"},
    {"channel": "instagram", "kind": "like"},
]
names = (f"d{n}" for n in itertools.count())

a_batch = st.lists(
    st.tuples(
        st.integers(0, CONTACTS - 1),
        st.sampled_from(range(len(ENGAGEMENTS))),
        st.integers(-24 * 60, 24 * 20),  # hours from the clock
    ),
    min_size=1,
    max_size=15,
)
a_step = st.one_of(
    st.tuples(st.just("ingest"), a_batch),
    st.tuples(
        st.just("status"), st.integers(0, CONTACTS - 1), st.sampled_from(["hot", "warm", "cold"])
    ),
    st.tuples(st.just("tick"), st.integers(-24 * 40, 24 * 40)),
)


def top_ten(scores: dict[int, float]) -> set[int]:
    ranked = sorted(scores.values(), reverse=True)
    threshold = ranked[max(1, math.ceil(len(ranked) / 10)) - 1]
    return {c for c, s in scores.items() if s >= threshold and s > 0}


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(history=st.lists(a_step, min_size=1, max_size=25))
def test_ticks_at_random_times_score_as_the_full_recomputation(
    crm: CRM, history: list[tuple[Any, ...]]
) -> None:
    tenant = crm.configure_tenant(next(names), ["leadklozer"])
    ids = [tenant.add_contact({"first_name": f"C{n}"}).id for n in range(CONTACTS)]
    now = START
    number = itertools.count()
    for step in [*history, ("tick", 24 * 45)]:
        if step[0] == "ingest":
            items = [
                {
                    "id": f"e{next(number)}",
                    "contact": ids[contact],
                    "kind": "engagement",
                    "data": ENGAGEMENTS[which],
                    "at": now + timedelta(hours=hours),
                }
                for contact, which, hours in step[1]
            ]
            assert tenant.ingest(items, batch_size=4).applied == len(items)
        elif step[0] == "status":
            tenant.set_facet(ids[step[1]], "status", step[2])
        else:
            at = now + timedelta(hours=step[1])
            now = max(now, at)
            tenant.tick(at)
            with crm.db.connect() as conn:
                scope = TenantScope(tenant.runtime(conn).tenant_id)
                fresh = recompute_scores(conn, scope, at)
                assert verify(conn, scope, scoring())[1] == []
            stored = {c.id: c.score for c in tenant.list_contacts()}
            for contact in ids:
                assert abs(stored[contact] - fresh[contact]) < SCORE_STEP + 1e-6, (contact, at)
            in_top = {c.id for c in tenant.list_contacts("contact.top_10 == yes")}
            assert in_top == top_ten(stored)
