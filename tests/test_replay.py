"""Replay and simulate: a tenant rebuilt from its history equals its current state;
other packs played on the same history report the contacts that would end differently.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support import (
    ALL_PACKS,
    ENGAGEMENTS,
    EVENT_KINDS,
    FrozenClock,
    PackPlugin,
    invoker,
    snapshot,
)

from crmkit import CRM, Tenant
from crmkit.errors import CRMError, ReplayError
from crmkit.replay import replay
from crmkit.storage.models import ContactRow, TransitionRow


def busy_tenant(crm: CRM, clock: FrozenClock, tmp_path: Path, seed: int = 7) -> Tenant:
    """A tenant with a varied history: events one by one and in batches, changes by
    hand, imports, archives, ticks (with the Top 10% and cold leads), accounts in
    Company First mode, and events that fail."""
    rng = random.Random(seed)
    tenant = crm.configure_tenant(
        "acme", ALL_PACKS, {"company_first": True, "hats_cold_after_days": 10}
    )
    ids = []
    for i in range(10):
        contact = tenant.add_contact(
            {
                "first_name": f"Person{i}",
                "last_name": "Test",
                "email": f"p{i}@example.com",
                "account": ["Initech", "Globex", None][i % 3],
                "facets": {"contact_type": "hot_lead"} if i % 4 == 0 else {},
                "tags": ["newsletter"] if i % 2 else [],
                "fields": {"budget": 1000 * i} if i % 3 == 0 else {},
            },
            actor="setup",
        )
        ids.append(contact.id)
        clock.advance(minutes=3)
    csv = tmp_path / "more.csv"
    csv.write_text(
        "first_name,last_name,email,city,tags\n"
        "Imported,One,imp1@example.com,Oslo,fair\n"
        "Person3,Test,p3@example.com,Lyon,fair\n",
        encoding="utf-8",
    )
    serial = 0

    def event() -> dict[str, object]:
        nonlocal serial
        serial += 1
        kind = rng.choice([*EVENT_KINDS, "engagement", "engagement"])
        data = dict(rng.choice(ENGAGEMENTS)) if kind == "engagement" else {}
        return {"id": f"e{serial}", "contact": rng.choice(ids), "kind": kind, "data": data}

    for step in range(160):
        roll = rng.random()
        try:
            if roll < 0.45:
                e = event()
                tenant.record_event(e["contact"], e["kind"], e["data"], id=e["id"])  # type: ignore[arg-type]
            elif roll < 0.55:
                tenant.ingest([event() for _ in range(rng.randint(2, 6))])
            elif roll < 0.62:
                tenant.set_facet(
                    rng.choice(ids),
                    rng.choice(["contact_type", "status", "lead_status"]),
                    rng.choice(["client", "hot", "qualified", "other", "warm"]),
                    actor="bob",
                )
            elif roll < 0.68:
                tenant.tag_contact(rng.choice(ids), add=["vip"], actor="bob")
            elif roll < 0.72:
                tenant.tag_contact(rng.choice(ids), remove=["vip", "newsletter"], actor="bob")
            elif roll < 0.77:
                tenant.update_contact(
                    rng.choice(ids),
                    {"city": rng.choice(["Paris", "Rome", None]), "fields": {"budget": step}},
                    actor="ann",
                )
            elif roll < 0.80:
                contact_id = rng.choice(ids)
                if tenant.get_contact(contact_id).archived:
                    tenant.restore_contact(contact_id, actor="ann")
                else:
                    tenant.delete_contact(contact_id, actor="ann")
            elif roll < 0.90:
                clock.advance(days=rng.randint(1, 6))
                tenant.tick()
            else:
                clock.advance(minutes=rng.randint(1, 90))
        except CRMError:
            pass  # refused by a policy, or a failed event: part of a real history too
        if step == 80:
            tenant.import_contacts(csv, actor="import")
            ids.extend(c.id for c in tenant.list_contacts() if c.id not in ids)
    return tenant


@pytest.fixture(scope="module")
def busy(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CRM, Tenant]]:
    """One busy tenant for the tests that only read it (replay writes nothing)."""
    clock = FrozenClock()
    crm = CRM(module_db_url, clock=clock)
    yield crm, busy_tenant(crm, clock, tmp_path_factory.mktemp("busy"))
    crm.close()


def test_replay_rebuilds_the_current_state(busy: tuple[CRM, Tenant]) -> None:
    _, tenant = busy
    result = replay(tenant)
    assert result.differences == []
    assert result.exact
    assert result.contacts == 11
    assert result.ticks >= 10
    assert result.by_hand >= 20
    assert result.events >= 60
    assert result.warnings == []
    kinds = {t.cause_type for c in tenant.list_contacts() for t in tenant.explain(c.id)}
    assert kinds == {"rule", "manual", "import"}


def test_replay_finds_a_change_its_history_does_not_explain(
    crm: CRM, clock: FrozenClock, tmp_path: Path
) -> None:
    tenant = busy_tenant(crm, clock, tmp_path)
    target = tenant.list_contacts()[0].id
    with crm.db.begin() as conn:  # a write behind crmkit's back, with no transition
        conn.execute(
            ContactRow.__table__.update()
            .where(ContactRow.__table__.c.id == target)
            .values(score=ContactRow.__table__.c.score + 5)
        )
    result = replay(tenant)
    assert not result.exact
    [difference] = result.differences
    assert difference.contact_id == target
    [value] = difference.values
    assert value.what == "score"
    assert value.now == pytest.approx(value.replayed + 5)


def test_replay_writes_nothing_to_the_tenant(busy: tuple[CRM, Tenant]) -> None:
    crm, tenant = busy
    before = snapshot(crm)
    replay(tenant)
    replay(tenant, packs=["17hats", "funnel"])
    assert snapshot(crm) == before


QUOTES_WIN = """
rules:
  - name: an accepted quote wins
    when: event.kind == quote_accepted
    then:
      - set: {stage: won}
"""
INVOICES_WIN = """
rules:
  - name: a paid invoice wins
    when: event.kind == invoice_paid
    then:
      - set: {stage: won}
"""


def test_simulate_reports_contacts_that_would_end_differently(
    db_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    crm = CRM(
        db_url,
        clock=clock,
        plugins=[PackPlugin(tmp_path, {"quotes": QUOTES_WIN, "invoices": INVOICES_WIN})],
        load_entry_points=False,
    )
    crm.migrate()
    tenant = crm.configure_tenant("acme", ["quotes"])
    ada = tenant.add_contact({"first_name": "Ada", "last_name": "Lovelace"})
    bob = tenant.add_contact({"first_name": "Bob", "last_name": "Payer"})
    cy = tenant.add_contact({"first_name": "Cy", "last_name": "Quiet"})
    tenant.record_event(ada.id, "quote_accepted", id="quote-1")
    clock.advance(hours=1)
    tenant.record_event(bob.id, "invoice_paid", id="invoice-1")
    tenant.record_event(cy.id, "newsletter_opened", id="news-1")

    result = replay(tenant, packs=["invoices"])
    assert result.packs == ["invoices@1.0.0"]
    assert result.new_facets == {}
    assert [d.contact_id for d in result.differences] == [ada.id, bob.id]
    [ada_value] = result.differences[0].values
    assert (ada_value.what, ada_value.now, ada_value.replayed) == ("facets.stage", "won", "open")
    assert ada_value.now_by == "quotes@1.0.0:an accepted quote wins, event quote-1"
    assert ada_value.replayed_by is None  # nothing moved her in the simulation
    [bob_value] = result.differences[1].values
    assert (bob_value.now, bob_value.replayed) == ("open", "won")
    assert bob_value.replayed_by == "invoices@1.0.0:a paid invoice wins, event invoice-1"
    # Both packs together: only Bob would end differently.
    both = replay(tenant, packs=["quotes", "invoices"])
    assert [d.contact_id for d in both.differences] == [bob.id]
    assert tenant.get_contact(bob.id).facets == {"stage": "open"}
    crm.close()


def test_simulate_counts_the_values_of_facets_only_the_other_packs_bring(
    crm: CRM, clock: FrozenClock
) -> None:
    tenant = crm.configure_tenant("acme", ["funnel"])
    ada = tenant.add_contact({"first_name": "Ada", "last_name": "Lovelace"})
    bob = tenant.add_contact({"first_name": "Bob", "last_name": "Quiet"})
    tenant.record_event(ada.id, "lead_form_submitted", id="form-1")
    clock.advance(hours=1)
    tenant.record_event(ada.id, "quote_accepted", id="quote-1")
    tenant.record_event(bob.id, "newsletter_opened", id="news-1")

    result = replay(tenant, packs=["funnel", "17hats"])
    assert result.packs == ["funnel@1.0.0", "17hats@1.0.0"]
    # 17hats would make Ada a hot lead on the form, then a client on the quote.
    assert result.new_facets == {"contact_type": {"client": 1, "other": 1}}
    # The role the funnel gave Ada is the same with both: no contact ends differently.
    assert result.exact
    assert tenant.get_contact(ada.id).facets == {"role": "client"}


def test_since_starts_from_the_state_at_that_time(crm: CRM, clock: FrozenClock) -> None:
    tenant = crm.configure_tenant("acme", ["17hats"], {"hats_cold_after_days": 10})
    ada = tenant.add_contact({"first_name": "Ada", "last_name": "Lovelace"})
    clock.advance(days=30)
    tenant.record_event(ada.id, "lead_form_submitted", id="form-1")
    clock.advance(days=1)
    cut = clock()
    clock.advance(days=1)
    tenant.tag_contact(ada.id, add=["vip"], actor="bob")
    clock.advance(days=3)
    tenant.tick()
    assert tenant.get_contact(ada.id).facets == {"contact_type": "hot_lead"}

    result = replay(tenant, since=cut)
    # Only what came after the cut is played, from Ada as she was then (a hot lead);
    # the earlier form is still there for the tick's "had_event within 10 days".
    assert (result.events, result.ticks, result.by_hand) == (0, 1, 1)
    assert result.exact
    after = replay(tenant, since=clock() + timedelta(seconds=1))
    assert (after.events, after.ticks, after.by_hand, after.exact) == (0, 0, 0, True)


def test_history_from_before_the_journal_is_refused_clearly(crm: CRM, clock: FrozenClock) -> None:
    tenant = crm.configure_tenant("acme", ["17hats"])
    ada = tenant.add_contact({"first_name": "Ada", "last_name": "Lovelace"})
    with crm.db.begin() as conn:  # as a database upgraded from before migration 0005
        conn.execute(ContactRow.__table__.update().values(created_after_seq=None))
    with pytest.raises(ReplayError, match=rf"contact {ada.id} was created before .*--since"):
        replay(tenant)
    clock.advance(hours=1)
    tenant.tag_contact(ada.id, add=["vip"])
    with crm.db.begin() as conn:
        conn.execute(TransitionRow.__table__.update().values(after_seq=None))
    with pytest.raises(ReplayError, match="version 1: a change by hand made before"):
        replay(tenant, since=ada.created_at + timedelta(seconds=1))


def test_replay_with_an_unknown_pack_names_it(crm: CRM) -> None:
    tenant = crm.configure_tenant("acme", ["17hats"])
    tenant.add_contact({"first_name": "Ada", "last_name": "Lovelace"})
    with pytest.raises(CRMError, match="nosuch"):
        replay(tenant, packs=["nosuch"])


def test_cli_replay_and_simulate(
    db_url: str, monkeypatch: pytest.MonkeyPatch, clock: FrozenClock
) -> None:
    crm = CRM(db_url, clock=clock)
    crm.migrate()
    tenant = crm.configure_tenant("acme", ["funnel"])
    ada = tenant.add_contact({"first_name": "Ada", "last_name": "Lovelace"})
    tenant.record_event(ada.id, "lead_form_submitted", id="form-1")
    tenant.record_event(ada.id, "quote_accepted", id="quote-1")
    crm.close()
    run = invoker(db_url, monkeypatch, "acme")

    out = run("rules", "replay")
    assert "1 contact, 2 events" in out and "every contact ends as it is now" in out

    out = run("rules", "simulate", "--packs", "funnel,17hats")
    assert "contact_type (only in the simulated packs): client 1" in out
    assert "no contact would end differently" in out
    out = run("rules", "simulate", "--packs", "contacts")
    assert f"contact {ada.id} Ada Lovelace" not in out  # role is not compared: not shared

    data = json.loads(run("rules", "simulate", "--packs", "funnel", "--json", stdout=True))
    assert data["exact"] is True and data["events"] == 2

    out = run("rules", "simulate", "--packs", "funnel", "--since", "not a time", code=2)
    assert "--since" in out
    out = run("rules", "simulate", code=2)
    assert "--packs" in out
