"""Recording events: rules change contacts, with audit, atomically."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import FrozenClock, PackPlugin, needs_durable, snapshot

from crmkit import CRM, Tenant, hookimpl
from crmkit.errors import (
    ActionError,
    DuplicateEventError,
    NotFoundError,
    PolicyError,
    ValidationError,
)
from crmkit.rules.actions import ActionSpec, Change
from crmkit.storage.models import EventRow


def add(tenant: Tenant, **facets: str) -> int:
    return tenant.add_contact({"first_name": "Ada", "last_name": "Lovelace", "facets": facets}).id


def contact_type(tenant: Tenant, contact_id: int) -> str:
    return tenant.get_contact(contact_id).facets["contact_type"]


# ------------------------------------------------------------------ the 17hats pack
def test_a_lead_form_makes_a_hot_lead(acme: Tenant) -> None:
    contact = add(acme)
    result = acme.record_event(contact, "lead_form_submitted", id="form-1")
    assert contact_type(acme, contact) == "hot_lead"
    assert [(c.old, c.new, c.cause) for c in result.changes] == [
        ("other", "hot_lead", "17hats@1.0.0:lead form makes a hot lead")
    ]


@pytest.mark.parametrize("kind", ["invoice_sent", "quote_accepted", "contract_signed"])
def test_billing_turns_a_hot_lead_into_a_client(acme: Tenant, kind: str) -> None:
    contact = add(acme, contact_type="hot_lead")
    acme.record_event(contact, kind)
    assert contact_type(acme, contact) == "client"


def test_billing_does_not_turn_other_types_into_clients(acme: Tenant) -> None:
    contact = add(acme, contact_type="cold_prospect")
    result = acme.record_event(contact, "invoice_sent")
    assert result.changes == []
    assert contact_type(acme, contact) == "cold_prospect"


def test_contact_type_is_chosen_at_creation_and_changeable_any_time(acme: Tenant) -> None:
    contact = add(acme, contact_type="client")
    assert contact_type(acme, contact) == "client"
    acme.set_facet(contact, "contact_type", "cold_prospect", actor="mia")
    acme.set_facet(contact, "contact_type", "hot_lead", actor="mia")
    assert contact_type(acme, contact) == "hot_lead"
    assert add(acme) and contact_type(acme, add(acme)) == "other"


def test_the_17hats_colours_are_fixed(acme: Tenant) -> None:
    colours = {v["name"]: v["colour"] for v in acme.facet_table()[0]["values"]}
    assert colours == {
        "hot_lead": "orange",
        "client": "green",
        "cold_prospect": "blue",
        "other": "grey",
    }
    before = snapshot(acme.crm)
    with pytest.raises(PolicyError, match="colours of facet 'contact_type' are fixed"):
        acme.set_colour("contact_type", "client", "red")
    assert snapshot(acme.crm) == before


# ------------------------------------------------------------------ audit and explain
def test_explain_names_each_cause(acme: Tenant, clock: FrozenClock) -> None:
    contact = add(acme)
    acme.record_event(contact, "lead_form_submitted", id="e1")
    clock.advance(days=1)
    acme.record_event(contact, "quote_accepted", id="e2")
    acme.set_facet(contact, "contact_type", "other", actor="sam")
    steps = acme.explain(contact, "contact_type")
    assert [(s.new, s.cause, s.event_id) for s in steps] == [
        ("hot_lead", "17hats@1.0.0:lead form makes a hot lead", "e1"),
        ("client", "17hats@1.0.0:hot lead becomes a client", "e2"),
        ("other", "manual (sam)", None),
    ]
    assert steps[1].at == clock.now
    assert (steps[1].pack, steps[1].pack_version, steps[1].rule) == (
        "17hats",
        "1.0.0",
        "hot lead becomes a client",
    )


def test_explain_of_an_unknown_contact_is_an_error(acme: Tenant) -> None:
    with pytest.raises(NotFoundError, match="contact 42 does not exist"):
        acme.explain(42)


# ------------------------------------------------------------------ bad inputs change nothing
def test_duplicate_event_id_changes_nothing(acme: Tenant) -> None:
    contact = add(acme)
    acme.record_event(contact, "lead_form_submitted", id="same")
    acme.set_facet(contact, "contact_type", "other")
    before = snapshot(acme.crm)
    with pytest.raises(DuplicateEventError, match="'same' was already recorded"):
        acme.record_event(contact, "lead_form_submitted", id="same")
    assert snapshot(acme.crm) == before
    assert contact_type(acme, contact) == "other"


def test_an_event_for_an_unknown_contact_changes_nothing(acme: Tenant) -> None:
    before = snapshot(acme.crm)
    with pytest.raises(NotFoundError, match="contact 999 does not exist in tenant 'acme'"):
        acme.record_event(999, "lead_form_submitted")
    assert snapshot(acme.crm) == before


def test_an_unknown_facet_value_is_refused(acme: Tenant) -> None:
    contact = add(acme)
    before = snapshot(acme.crm)
    with pytest.raises(PolicyError, match="'vip' is not a value of facet 'contact_type'"):
        acme.set_facet(contact, "contact_type", "vip")
    with pytest.raises(PolicyError, match="'warm' is not a value"):
        acme.add_contact({"first_name": "X", "facets": {"contact_type": "warm"}})
    with pytest.raises(PolicyError, match="does not use facet 'role'"):
        acme.add_contact({"first_name": "X", "facets": {"role": "lead"}})
    assert snapshot(acme.crm) == before


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"first_name": ""}, "first_name"),
        ({"first_name": "A", "email": "not-an-email"}, "email"),
        ({"first_name": "A", "colour": "red"}, "colour: unknown field"),
    ],
)
def test_invalid_contacts_name_the_field(
    acme: Tenant, payload: dict[str, str], message: str
) -> None:
    before = snapshot(acme.crm)
    with pytest.raises(ValidationError, match=message):
        acme.add_contact(payload)
    assert snapshot(acme.crm) == before


def test_an_invalid_event_names_the_field(acme: Tenant) -> None:
    contact = add(acme)
    before = snapshot(acme.crm)
    with pytest.raises(ValidationError, match="kind"):
        acme.record_event(contact, "not a kind")
    assert snapshot(acme.crm) == before


# ------------------------------------------------------------------ policies on rule paths
FORWARD_RULES = """
rules:
  - name: reopen
    when: event.kind == reopened
    then: [{set: {stage: open}}]
  - name: win
    when: event.kind == won
    then: [{set: {stage: won}}, {tag: customer}, {score: 10}]
  - name: archive
    when: event.kind == archived
    then: [{set: {stage: archived}}]
"""


@pytest.fixture
def staged(db_url: str, tmp_path: Path, clock: FrozenClock) -> Tenant:
    crm = CRM(
        db_url,
        clock=clock,
        plugins=[PackPlugin(tmp_path, {"stages": FORWARD_RULES})],
        load_entry_points=False,
    )
    crm.migrate()
    return crm.configure_tenant("t", ["stages"])


def test_a_rule_that_moves_a_forward_only_facet_back_fails_the_event(staged: Tenant) -> None:
    contact = add(staged)
    staged.record_event(contact, "won", id="w")
    before = snapshot(staged.crm)
    with pytest.raises(PolicyError, match=r"rule stages@1.0.0:reopen.*only moves forward"):
        staged.record_event(contact, "reopened", id="r")
    after = snapshot(staged.crm)
    assert {k: v for k, v in after.items() if k not in ("events", "counters")} == {
        k: v for k, v in before.items() if k not in ("events", "counters")
    }
    with staged.crm.db.connect() as conn:
        status, error = conn.execute(
            sa.select(EventRow.status, EventRow.error).where(EventRow.id == "r")
        ).one()
    assert status == "failed" and "only moves forward" in error


def test_manual_changes_obey_forward_only_and_rules_only_values(staged: Tenant) -> None:
    contact = add(staged)
    staged.set_facet(contact, "stage", "won")
    before = snapshot(staged.crm)
    with pytest.raises(PolicyError, match="'won' to 'open' is refused"):
        staged.set_facet(contact, "stage", "open")
    with pytest.raises(PolicyError, match="set by rules only"):
        staged.add_contact({"first_name": "B", "facets": {"stage": "archived"}})
    assert snapshot(staged.crm) == before
    staged.record_event(contact, "archived")
    assert staged.get_contact(contact).facets["stage"] == "archived"


def test_a_rule_can_tag_and_score(staged: Tenant) -> None:
    contact = add(staged)
    result = staged.record_event(contact, "won")
    got = staged.get_contact(contact)
    assert (got.facets["stage"], got.tags, got.score) == ("won", ["customer"], 10.0)
    assert [(c.name, c.old, c.new) for c in result.changes] == [
        ("stage", "open", "won"),
        ("tags", None, "customer"),
        ("score", "0", "10"),
    ]


# ------------------------------------------------------------------ actions that raise
class Exploding:
    @hookimpl
    def crmkit_register_actions(self, register: Callable[[str, ActionSpec], None]) -> None:
        def run(args: object, ctx: object) -> list[Change]:
            raise RuntimeError("mail server down")

        register("explode", ActionSpec(lambda args, schema: args, run))


EXPLODING_RULES = """
rules:
  - name: win
    when: event.kind == won
    priority: 1
    then: [{set: {stage: won}}, {score: 5}]
  - name: notify
    when: event.kind == won
    priority: 2
    then: [{explode: yes}]
"""


def test_an_action_that_raises_rolls_back_and_keeps_the_event_failed(
    db_url: str, tmp_path: Path
) -> None:
    seen: list[tuple[str, str]] = []

    class Watcher:
        @hookimpl
        def crmkit_on_event_failed(self, tenant: str, event: dict[str, object], error: str) -> None:
            seen.append((str(event["id"]), error))

    crm = CRM(
        db_url,
        load_entry_points=False,
        plugins=[PackPlugin(tmp_path, {"boom": EXPLODING_RULES}), Exploding(), Watcher()],
    )
    crm.migrate()
    tenant = crm.configure_tenant("t", ["boom"])
    contact = add(tenant)
    with pytest.raises(
        ActionError, match=r"rule boom@1.0.0:notify failed: RuntimeError: mail server down"
    ):
        tenant.record_event(contact, "won", id="ev")
    got = tenant.get_contact(contact)
    assert (got.facets["stage"], got.score) == ("open", 0.0)
    assert tenant.explain(contact) == []
    with crm.db.connect() as conn:
        row = conn.execute(sa.select(EventRow.status, EventRow.error)).one()
    assert row[0] == "failed" and "mail server down" in row[1]
    assert seen and seen[0][0] == "ev"


# ------------------------------------------------------------------ ordering and snapshots
ORDER_RULES = """
rules:
  - name: late
    when: event.kind == go
    priority: 200
    then: [{set: {stage: won}}, {tag: late}]
  - name: early
    when: event.kind == go
    priority: 10
    then: [{tag: early}]
  - name: sees the snapshot
    when: event.kind == go and contact.tags has early
    then: [{tag: impossible}]
"""


def test_rules_apply_in_priority_order_on_the_arrival_snapshot(
    staged: Tenant, db_url: str, tmp_path: Path
) -> None:
    crm = CRM(
        db_url, plugins=[PackPlugin(tmp_path, {"order": ORDER_RULES})], load_entry_points=False
    )
    tenant = crm.configure_tenant("o", ["order"])
    contact = add(tenant)
    result = tenant.record_event(contact, "go")
    assert [c.new for c in result.changes] == ["early", "won", "late"]
    assert "impossible" not in tenant.get_contact(contact).tags
    result = tenant.record_event(contact, "go")
    assert [c.new for c in result.changes] == ["impossible"]


# ------------------------------------------------------------------ tenants and packs
ALT_17HATS = """
rules:
  - name: forms make clients
    when: event.kind == lead_form_submitted
    then: [{set: {stage: won}}]
"""


def test_two_tenants_get_different_outcomes_for_the_same_events(
    db_url: str, tmp_path: Path
) -> None:
    crm = CRM(db_url, plugins=[PackPlugin(tmp_path, {"alt": ALT_17HATS})])
    crm.migrate()
    hats = crm.configure_tenant("hats", ["17hats"])
    alt = crm.configure_tenant("alt", ["alt"])
    a, b = add(hats), add(alt)
    hats.record_event(a, "lead_form_submitted", id="same-id")
    alt.record_event(b, "lead_form_submitted", id="same-id")
    assert hats.get_contact(a).facets == {"contact_type": "hot_lead"}
    assert alt.get_contact(b).facets == {"stage": "won"}


def test_changing_packs_takes_effect_on_the_next_event(db_url: str, tmp_path: Path) -> None:
    crm = CRM(db_url, plugins=[PackPlugin(tmp_path, {"alt": ALT_17HATS})])
    crm.migrate()
    tenant = crm.configure_tenant("t", ["alt"])
    contact = add(tenant)
    # Another process (a second CRM object) reconfigures the tenant.
    other = CRM(db_url, plugins=[PackPlugin(tmp_path, {"alt": ALT_17HATS})])
    other.configure_tenant("t", ["alt", "17hats"])
    tenant.record_event(contact, "lead_form_submitted")
    assert tenant.get_contact(contact).facets == {"contact_type": "hot_lead", "stage": "won"}


def test_tenants_on_the_same_pack_version_share_one_compiled_ruleset(crm: CRM) -> None:
    a = crm.configure_tenant("a", ["17hats"])
    b = crm.configure_tenant("b", ["17hats@1.0.0"])
    with crm.db.connect() as conn:
        assert a.runtime(conn).rulesets[0] is b.runtime(conn).rulesets[0]


# ------------------------------------------------------------------ batch ingest
def test_ingest_applies_in_order_and_skips_duplicates(acme: Tenant) -> None:
    contacts = [add(acme) for _ in range(5)]
    events = [{"id": f"f{c}", "contact": c, "kind": "lead_form_submitted"} for c in contacts]
    events += [{"id": f"i{c}", "contact": c, "kind": "invoice_sent"} for c in contacts[:2]]
    summary = acme.ingest(events, batch_size=3)
    assert (summary.applied, summary.skipped, summary.failed, summary.changes) == (7, 0, 0, 7)
    assert [contact_type(acme, c) for c in contacts] == ["client"] * 2 + ["hot_lead"] * 3
    again = acme.ingest(events)
    assert (again.applied, again.skipped) == (0, 7)


def test_a_large_batch_writes_every_event_state_and_transition(acme: Tenant) -> None:
    # Enough rows that PostgreSQL takes the one-statement (unnest) path for each write.
    contacts = [add(acme) for _ in range(40)]
    events = [{"id": f"f{c}", "contact": c, "kind": "lead_form_submitted"} for c in contacts]
    events += [
        {"id": f"i{c}", "contact": c, "kind": "invoice_sent", "data": {"amount": c}}
        for c in contacts[:25]
    ]
    summary = acme.ingest(events, batch_size=1000)
    assert (summary.applied, summary.changes) == (65, 65)
    assert [contact_type(acme, c) for c in contacts] == ["client"] * 25 + ["hot_lead"] * 15
    last = acme.explain(contacts[24], "contact_type")[-1]
    assert (last.old, last.new, last.event_id) == ("hot_lead", "client", f"i{contacts[24]}")
    assert len(acme.explain(contacts[0])) == 2


def test_ingest_same_contact_twice_in_one_batch_sees_its_own_changes(acme: Tenant) -> None:
    contact = add(acme)
    summary = acme.ingest(
        [
            {"id": "1", "contact": contact, "kind": "lead_form_submitted"},
            {"id": "2", "contact": contact, "kind": "contract_signed"},
        ]
    )
    assert summary.changes == 2
    assert contact_type(acme, contact) == "client"


def test_ingest_reports_bad_items_and_keeps_the_good_ones(acme: Tenant) -> None:
    contact = add(acme)
    summary = acme.ingest(
        [
            {"id": "ok", "contact": contact, "kind": "lead_form_submitted"},
            {"id": "ghost", "contact": 777, "kind": "lead_form_submitted"},
            {"id": "bad", "contact": contact, "kind": "has spaces"},
            ValueError("line 4: not JSON"),
        ]
    )
    assert (summary.total, summary.applied, summary.failed) == (4, 1, 3)
    assert any("contact 777 does not exist" in e for e in summary.errors)
    assert any("line 4: not JSON" in e for e in summary.errors)
    assert contact_type(acme, contact) == "hot_lead"


def test_ingest_isolates_a_failing_event_in_a_batch(db_url: str, tmp_path: Path) -> None:
    crm = CRM(
        db_url,
        load_entry_points=False,
        plugins=[PackPlugin(tmp_path, {"boom": EXPLODING_RULES}), Exploding()],
    )
    crm.migrate()
    tenant = crm.configure_tenant("t", ["boom"])
    a, b = add(tenant), add(tenant)
    summary = tenant.ingest(
        [
            {"id": "1", "contact": a, "kind": "tick"},
            {"id": "2", "contact": b, "kind": "won"},
            {"id": "3", "contact": a, "kind": "tock"},
        ]
    )
    assert (summary.applied, summary.failed) == (2, 1)
    assert "mail server down" in summary.errors[0]
    with crm.db.connect() as conn:
        statuses = {r[0]: r[1] for r in conn.execute(sa.select(EventRow.id, EventRow.status))}
    assert statuses == {"1": "applied", "2": "failed", "3": "applied"}


def test_ingest_sees_changes_made_between_its_batches(acme: Tenant) -> None:
    contact = add(acme)

    def stream():  # type: ignore[no-untyped-def]
        yield {"id": "1", "contact": contact, "kind": "lead_form_submitted"}
        # Another writer changes the contact while the ingest is between batches.
        acme.set_facet(contact, "contact_type", "cold_prospect", actor="sam")
        yield {"id": "2", "contact": contact, "kind": "invoice_sent"}

    summary = acme.ingest(stream(), batch_size=1)
    assert summary.applied == 2
    assert contact_type(acme, contact) == "cold_prospect"


def test_event_data_must_be_plain_json(acme: Tenant) -> None:
    from datetime import datetime

    contact = add(acme)
    before = snapshot(acme.crm)
    with pytest.raises(ValidationError, match=r"data\.when holds a datetime"):
        acme.record_event(contact, "note", {"when": datetime(2026, 1, 1)})
    with pytest.raises(ValidationError, match=r"data\.ratio is not a finite number"):
        acme.record_event(contact, "note", {"ratio": float("nan")})
    assert snapshot(acme.crm) == before


@needs_durable
def test_a_first_event_that_no_rule_matches_is_recorded(tmp_path: Path) -> None:
    """durable_rules crashed the process (double free) when the first session a ruleset
    ever deleted was one in which no fact matched; a fresh process shows it."""
    script = """
import sys
from crmkit import CRM
crm = CRM(sys.argv[1])
crm.migrate()
acme = crm.configure_tenant("acme", ["17hats"])
ada = acme.add_contact({"first_name": "Ada", "last_name": "Lovelace"})
# A quote for a contact who is not a hot lead: 17hats has the kind, no rule matches.
print(len(acme.record_event(ada.id, "quote_accepted").changes))
print(len(acme.record_event(ada.id, "lead_form_submitted").changes))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, f"sqlite:///{tmp_path / 'crm.db'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", "1"]


@needs_durable
def test_the_engine_runs_no_timer_threads_and_matching_goes_on_after_shutdown(
    crm: CRM,
) -> None:
    """durable_rules' timers re-arm themselves in new threads: left running at exit, one
    can fail during interpreter shutdown and abort the process, and while running, one
    took a fact's pending actions off the host on its own thread, so a fact matching
    many rules lost some (tests/reliability/test_durable_limits.py). crmkit's host starts
    none."""
    import threading

    from crmkit.rules import engine

    tenant = crm.configure_tenant("acme", ["17hats"])
    ada = tenant.add_contact({"first_name": "Ada", "last_name": "Lovelace"})
    tenant.record_event(ada.id, "lead_form_submitted")
    host = engine._REGISTRY.host
    assert host is not None
    timers = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    assert timers == [] and getattr(host, "_d_timer", None) is None
    engine.shutdown()
    # The next match starts a new host and registers the rulesets again.
    made = tenant.record_event(ada.id, "contract_signed").changes
    assert [(t.name, t.new) for t in made] == [("contact_type", "client")]
    assert engine._REGISTRY.host is not None and engine._REGISTRY.host is not host


EITHER_RULES = """
rules:
  - name: either
    when: event.kind == won or event.data.big == true
    then: [{score: 10}, {tag: customer}]
"""


def test_a_rule_whose_alternatives_both_hold_runs_once(db_url: str, tmp_path: Path) -> None:
    """durable_rules fires such a rule once per alternative; its score counted twice."""
    plugins = [PackPlugin(tmp_path, {"either": EITHER_RULES})]
    crm = CRM(db_url, plugins=plugins, load_entry_points=False)
    crm.migrate()
    tenant = crm.configure_tenant("t", ["either"])
    contact = add(tenant)
    changes = tenant.record_event(contact, "won", {"big": True}, id="both").changes
    assert [(t.name, t.new) for t in changes] == [("score", "10"), ("tags", "customer")]
    assert tenant.get_contact(contact).score == 10
    crm.close()
