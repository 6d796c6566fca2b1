"""A tick's score moves written set-wise leave exactly what the change path leaves.

Two CRMs share the database and the clock and play one history in lockstep: one writes
the moves set-wise, the other has a ``crmkit_guard_change`` hook (which lets everything
pass) and so takes the change path. Their transitions, scores and replays must match.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from crmkit import CRM, Tenant
from crmkit.errors import PolicyError
from crmkit.markers import hookimpl
from crmkit.plugin_api import AddScore, Change, ChangeContext, TransitionRow
from crmkit.replay import replay
from crmkit.testing.support import FrozenClock

AGING = "smart score aging"
names = (f"w{n}" for n in itertools.count())


class Listener:
    """Keeps the aging transitions ``crmkit_on_changes`` is given."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, str | None]] = []

    @hookimpl
    def crmkit_on_changes(
        self, tenant: str, transitions: list[dict[str, Any]], context: ChangeContext
    ) -> None:
        self.seen.extend(
            (t["contact_id"], t["version"], t["new"]) for t in transitions if t["rule"] == AGING
        )


class Guard(Listener):
    """A guard hook: the tick must put each score move to it. ``refuse``: a contact
    whose aging moves it refuses."""

    def __init__(self, refuse: int | None = None) -> None:
        super().__init__()
        self.refuse = refuse
        self.asked = 0

    @hookimpl
    def crmkit_guard_change(
        self, tenant: str, contact_id: int, change: Change, cause_type: str
    ) -> str | None:
        if isinstance(change, AddScore) and cause_type == "rule":
            self.asked += 1
            if contact_id == self.refuse:
                return "this contact's score is frozen"
        return None


@pytest.fixture
def pair(db_url: str, clock: FrozenClock) -> Iterator[tuple[CRM, Listener, CRM, Guard]]:
    listener, guard = Listener(), Guard()
    setwise = CRM(db_url, plugins=[listener], clock=clock)
    setwise.migrate()
    changepath = CRM(db_url, plugins=[guard], clock=clock)
    yield setwise, listener, changepath, guard
    changepath.close()
    setwise.close()


ENGAGEMENTS = [("phone", "call"), ("facebook", "like"), ("web", "trial_signup"), ("email", "open")]


def play(tenant: Tenant, clock: FrozenClock, step: int, ids: list[int]) -> None:
    """Step ``step`` of one history: engagements of every kind (some dated ahead), status
    changes by hand, ticks an hour, a day and a month apart."""
    for n, contact in enumerate(ids):
        channel, kind = ENGAGEMENTS[(n + step) % len(ENGAGEMENTS)]
        ahead = timedelta(days=(n % 3) * 5 - 5)
        data = {"channel": channel, "kind": kind}
        tenant.record_event(contact, "engagement", data, id=f"e{step}-{n}", at=clock.now + ahead)
    tenant.set_facet(ids[step % len(ids)], "status", ["hot", "cold", "warm"][step % 3])


def transitions(crm: CRM, tenant: Tenant) -> list[dict[str, Any]]:
    t = TransitionRow.__table__.c
    with crm.db.connect() as conn:
        tenant_id = tenant.runtime(conn).tenant_id
        columns = [c for c in TransitionRow.__table__.columns if c.name != "tenant_id"]
        rows = conn.execute(
            sa.select(*columns).where(t.tenant_id == tenant_id).order_by(t.contact_id, t.version)
        )
        return [dict(row._mapping) for row in rows]


def test_setwise_score_moves_write_what_the_change_path_writes(
    pair: tuple[CRM, Listener, CRM, Guard], clock: FrozenClock
) -> None:
    setwise, listener, changepath, guard = pair
    name = next(names)
    fast = setwise.configure_tenant(f"{name}a", ["leadklozer"])
    slow = changepath.configure_tenant(f"{name}b", ["leadklozer"])
    ids = [fast.add_contact({"first_name": f"C{n}"}).id for n in range(4)]
    assert [slow.add_contact({"first_name": f"C{n}"}).id for n in range(4)] == ids
    asked = 0  # how often the guard was asked about a move during the ticks
    for step, hours in enumerate([0, 24, 24 * 31, 24 * 40]):
        clock.advance(hours=hours)
        for tenant in (fast, slow):
            play(tenant, clock, step, ids)
            before = guard.asked
            tenant.tick()
            asked += guard.asked - before
    made = transitions(setwise, fast)
    assert made == transitions(changepath, slow)
    aging = [row for row in made if row["rule"] == AGING]
    assert len(aging) >= 8  # decay, expiry and dated engagements all moved scores
    assert {c.id: c.score for c in fast.list_contacts()} == {
        c.id: c.score for c in slow.list_contacts()
    }
    assert asked == len(aging)  # the change path asked about every move
    assert (
        sorted(listener.seen)
        == sorted(guard.seen)
        == sorted((row["contact_id"], row["version"], row["new"]) for row in aging)
    )
    result = replay(fast)
    assert result.differences == [] and result.exact
    assert [t.cause for t in fast.explain(ids[0], "score")] == [
        t.cause for t in slow.explain(ids[0], "score")
    ]


def test_a_guard_refusing_a_score_move_stops_the_tick(db_url: str, clock: FrozenClock) -> None:
    crm = CRM(db_url, plugins=[guard := Guard()], clock=clock)
    crm.migrate()
    try:
        tenant = crm.configure_tenant(next(names), ["leadklozer"])
        ada, bob = (tenant.add_contact({"first_name": n}).id for n in ("Ada", "Bob"))
        for contact in (ada, bob):
            tenant.record_event(contact, "engagement", {"channel": "phone", "kind": "call"})
        tenant.tick()
        guard.refuse = bob
        clock.advance(days=30)
        with pytest.raises(PolicyError, match=f"contact {bob}: this contact's score is frozen"):
            tenant.tick()
        assert [c.score for c in tenant.list_contacts()] == [15, 15]  # nothing written
    finally:
        crm.close()
