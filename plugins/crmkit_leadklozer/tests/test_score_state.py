"""The incremental Smart Score: ticks move scores from the pack's state, never erase
another pack's points, and agree with a full recomputation from the event log."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crmkit_leadklozer.ranking import recompute_scores
from crmkit_leadklozer.score_state import SCORE_STEP
from crmkit_leadklozer.scoring import scoring
from crmkit_leadklozer.verification import verify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import CRM, Tenant
from crmkit.storage.scope import TenantScope
from crmkit.testing.properties import examples
from crmkit.testing.support import FrozenClock, PackPlugin, invoker

# Another pack's points: 20 for a signup, given by the core ``score:`` action.
BONUS = """
description: A signup is worth 20 points.
rules:
  - name: a signup earns points
    when: event.kind == signup
    then:
      - score: 20
"""
BONUS_POINTS = 20.0
ENGAGEMENTS = [
    ("phone", "call"),  # 10 points, half-life 30 days
    ("facebook", "like"),  # 1 point, expires after 30 days
    ("web", "trial_signup"),  # 25 points, half-life 30 days
    ("email", "open"),  # 1 point, half-life 30 days
]
tenant_names = (f"s{n}" for n in itertools.count())


@pytest.fixture
def bonus_crm(db_url: str, clock: FrozenClock, tmp_path: Path) -> Any:
    crm = CRM(db_url, plugins=[PackPlugin(tmp_path, {"bonus": BONUS})], clock=clock)
    crm.migrate()
    yield crm
    crm.close()


def new_tenant(crm: CRM, contacts: int) -> tuple[Tenant, list[int]]:
    tenant = crm.configure_tenant(next(tenant_names), ["leadklozer", "bonus"])
    ids = [tenant.add_contact({"first_name": f"C{n}"}).id for n in range(contacts)]
    return tenant, ids


def engage(tenant: Tenant, contact: int, channel: str, kind: str, **extra: Any) -> None:
    tenant.record_event(contact, "engagement", {"channel": channel, "kind": kind}, **extra)


def score(tenant: Tenant, contact: int) -> float:
    return tenant.get_contact(contact).score


def differences(tenant: Tenant) -> list[Any]:
    with tenant.crm.db.connect() as conn:
        return verify(conn, TenantScope(tenant.runtime(conn).tenant_id), scoring())[1]


def test_another_packs_points_survive_every_tick_and_do_not_decay(
    bonus_crm: CRM, clock: FrozenClock
) -> None:
    tenant, [ada] = new_tenant(bonus_crm, 1)
    engage(tenant, ada, "phone", "call")  # 10 points, and the status new: 5
    tenant.record_event(ada, "signup", {})  # the bonus pack: 20
    assert score(tenant, ada) == 35
    tenant.tick()
    assert score(tenant, ada) == 35  # no time passed: nothing moves (it was 15 before)
    clock.advance(days=30)
    tenant.tick()
    assert score(tenant, ada) == pytest.approx(30)  # the call halved, the rest kept
    clock.advance(days=30)
    tenant.tick()
    assert score(tenant, ada) == pytest.approx(27.5)
    assert differences(tenant) == []
    causes = [t.cause for t in tenant.explain(ada, "score")]
    assert causes.count("bonus@1.0.0:a signup earns points") == 1
    assert causes[-1] == "leadklozer@1.0.0:smart score aging"


def test_an_hours_decay_below_the_step_is_kept_in_the_state_not_written(
    crm: CRM, clock: FrozenClock
) -> None:
    tenant = crm.configure_tenant("lk", ["leadklozer"])
    ada = tenant.add_contact({"first_name": "Ada"}).id
    engage(tenant, ada, "phone", "call")
    tenant.tick()
    clock.advance(hours=1)  # 10 points lose about 0.0096 in an hour
    summary = tenant.tick()
    assert summary.by_rule.get("leadklozer@1.0.0:smart score aging", 0) == 0
    assert score(tenant, ada) == 15
    clock.advance(hours=1)  # two hours' decay reaches the step: written
    tenant.tick()
    assert score(tenant, ada) == pytest.approx(5 + 10 * 0.5 ** (2 / 720))
    assert differences(tenant) == []


def test_an_engagement_dated_after_the_tick_decays_from_its_own_date(
    crm: CRM, clock: FrozenClock
) -> None:
    tenant = crm.configure_tenant("lk", ["leadklozer"])
    ada = tenant.add_contact({"first_name": "Ada"}).id
    engage(tenant, ada, "phone", "call", at=clock.now + timedelta(days=10))
    tenant.tick()
    assert score(tenant, ada) == 15  # full points until its date
    clock.advance(days=40)
    tenant.tick()
    assert score(tenant, ada) == pytest.approx(5 + 5)  # 30 days after its date
    assert differences(tenant) == []


def test_a_tick_earlier_than_the_last_rebuilds_the_state_from_the_log(
    crm: CRM, clock: FrozenClock
) -> None:
    tenant = crm.configure_tenant("lk", ["leadklozer"])
    ada, bo = (tenant.add_contact({"first_name": n}).id for n in ("Ada", "Bo"))
    start = clock.now
    engage(tenant, ada, "phone", "call")
    engage(tenant, bo, "facebook", "like")
    tenant.tick(start + timedelta(days=60))
    assert (score(tenant, ada), score(tenant, bo)) == (pytest.approx(7.5), 5)
    tenant.tick(start + timedelta(days=30))
    assert (score(tenant, ada), score(tenant, bo)) == (pytest.approx(10), 5)
    tenant.tick(start + timedelta(days=29))
    assert (score(tenant, ada), score(tenant, bo)) == (pytest.approx(5 + 10 * 0.5 ** (29 / 30)), 6)
    assert differences(tenant) == []


def test_a_tenant_scored_before_the_state_existed_keeps_its_scores(
    crm: CRM, clock: FrozenClock
) -> None:
    """A database of an older release: its ticks stored full recomputations and kept no
    state; the first tick after the upgrade builds the state without moving a score."""
    tenant = crm.configure_tenant("lk", ["leadklozer"])
    ada = tenant.add_contact({"first_name": "Ada"}).id
    engage(tenant, ada, "phone", "call")
    clock.advance(days=30)
    tenant.tick()  # 10 halved + 5: what the older release stored too
    with crm.db.begin() as conn:
        for name in ("leadklozer_score_parts", "leadklozer_score_due", "leadklozer_score_clocks"):
            conn.execute(sa.text(f"DELETE FROM {name}"))
    engage(tenant, ada, "web", "visit")  # 1 point, and the status neutral: 6
    assert score(tenant, ada) == 6
    tenant.tick()
    assert score(tenant, ada) == pytest.approx(6)
    clock.advance(days=30)
    tenant.tick()
    assert score(tenant, ada) == pytest.approx(2.5 + 0.5)
    assert differences(tenant) == []


def test_verify_scores_reports_a_state_that_left_the_log(
    crm: CRM, db_url: str, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = crm.configure_tenant("lk", ["leadklozer"])
    ada = tenant.add_contact({"first_name": "Ada"}).id
    invoke = invoker(db_url, monkeypatch, "lk")
    assert "no tick has scored this tenant yet" in invoke("leadklozer", "verify-scores")
    engage(tenant, ada, "phone", "call")
    clock.advance(days=30)
    tenant.tick()
    assert "0 difference(s) at the last tick" in invoke("leadklozer", "verify-scores")
    with crm.db.begin() as conn:
        conn.execute(sa.text("UPDATE leadklozer_score_parts SET value = value + 3"))
    error = invoke("leadklozer", "verify-scores", code=1)
    assert "1 Smart Score(s) differ from the event log" in error
    report = json.loads(invoke("leadklozer", "verify-scores", "--json", code=1, stdout=True))
    [found] = report["differences"]
    assert (found["contact"], found["from_log"], found["in_state"]) == (ada, 5, 8)
    parts = json.loads(invoke("leadklozer", "score", str(ada), "--json"))
    assert (parts["engagement_points"], parts["status_points"], parts["other_points"]) == (
        5,
        5,
        0,
    )


# ------------------------------------------------------------------ differential
# A step of a generated history: an engagement dated some days before or after now,
# another pack's points, a status set by hand, or time passing and a tick.
a_step = st.one_of(
    st.tuples(
        st.just("engage"),
        st.integers(0, 2),
        st.sampled_from(range(len(ENGAGEMENTS))),
        st.integers(-45, 15),
    ),
    st.tuples(st.just("signup"), st.integers(0, 2)),
    st.tuples(st.just("status"), st.integers(0, 2), st.sampled_from(["hot", "cold", "neutral"])),
    st.tuples(st.just("tick"), st.sampled_from([0, 1, 7, 24, 24 * 13, 24 * 31, -24 * 20])),
)


def check_history(crm: CRM, clock: FrozenClock, history: list[tuple[Any, ...]]) -> None:
    """Play ``history``; after each tick every stored score must be its recomputation
    from the log at the tick (within the step), plus the other pack's points."""
    tenant, ids = new_tenant(crm, 3)
    bonus = dict.fromkeys(ids, 0.0)
    for step in [*history, ("tick", 24 * 31)]:
        if step[0] == "engage":
            channel, kind = ENGAGEMENTS[step[2]]
            engage(tenant, ids[step[1]], channel, kind, at=clock.now + timedelta(days=step[3]))
        elif step[0] == "signup":
            tenant.record_event(ids[step[1]], "signup", {})
            bonus[ids[step[1]]] += BONUS_POINTS
        elif step[0] == "status":
            tenant.set_facet(ids[step[1]], "status", step[2])
        else:
            at: datetime = clock.now + timedelta(hours=step[1])
            if step[1] >= 0:
                clock.advance(hours=step[1])
            tenant.tick(at)
            with crm.db.connect() as conn:
                scope = TenantScope(tenant.runtime(conn).tenant_id)
                fresh = recompute_scores(conn, scope, at)
            stored = {c.id: c.score for c in tenant.list_contacts()}
            for contact in ids:
                expected = fresh[contact] + bonus[contact]
                assert abs(stored[contact] - expected) < SCORE_STEP + 1e-6, (contact, step)
            assert differences(tenant) == []
            ranked = sorted((s for s in stored.values()), reverse=True)
            threshold = ranked[0]  # three contacts: k = 1
            top = {c for c, s in stored.items() if s >= threshold and s > 0}
            assert {c.id for c in tenant.list_contacts("contact.top_10 == yes")} == top


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(history=st.lists(a_step, max_size=12))
def test_generated_histories_score_as_the_full_recomputation(
    bonus_crm: CRM, clock: FrozenClock, history: list[tuple[Any, ...]]
) -> None:
    check_history(bonus_crm, clock, history)
