"""Batched ingest ends exactly where recording the same events one by one does.

Ingest carries contact states from one batch to the next; a ``crmkit_on_changes`` hook
(LeadKlozer's status points) writes contacts behind that cache. For generated histories
over all five first-party packs, any batch size gives the same facets, scores, tags,
transitions and event statuses as ``record_event`` called once per event.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import CRM, Tenant
from crmkit.errors import CRMError

ALL_PACKS = ["17hats", "funnel", "contacts", "leadklozer", "clienttether"]
CONTACTS = 5
KINDS = [
    "lead_form_submitted",
    "web_lead",
    "quote_accepted",
    "invoice_sent",
    "invoice_paid",
    "contract_signed",
    "lead_converted",
    "estimate_requested",
    "meeting_booked",
    "meeting_held",
    "email_sent",
    "call_logged",
    "message_sent",
]
ENGAGEMENTS = [
    {"channel": "email", "kind": "reply"},
    {"channel": "web", "kind": "visit"},
    {"channel": "sms", "kind": "text", "direction": "in"},
    {"channel": "facebook", "kind": "comment"},
]
BATCH_SIZES = [1, 2, 3, 5, 7, 11, 5000]
START = datetime(2026, 3, 1, tzinfo=timezone.utc)

# (contact, kind, data): an unknown contact (CONTACTS + 1) is a failure on both paths.
an_event = st.tuples(
    st.integers(1, CONTACTS + 1),
    st.one_of(
        st.tuples(st.just("engagement"), st.sampled_from(ENGAGEMENTS)),
        st.tuples(st.sampled_from(KINDS), st.just({})),
    ),
)
histories = st.lists(an_event, min_size=1, max_size=40)
tenant_names = (f"t{n}" for n in itertools.count())


def new_tenant(crm: CRM) -> Tenant:
    tenant = crm.configure_tenant(next(tenant_names), ALL_PACKS)
    for n in range(CONTACTS):
        tenant.add_contact({"first_name": f"C{n}", "email": f"c{n}@example.com"})
    return tenant


def as_items(history: list[tuple[int, tuple[str, dict[str, Any]]]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"e{n}",
            "contact": contact,
            "kind": kind,
            "data": dict(data),
            "at": START + timedelta(minutes=n),
        }
        for n, (contact, (kind, data)) in enumerate(history)
    ]


def state_of(crm: CRM, tenant: Tenant) -> dict[str, list[tuple[Any, ...]]]:
    """Everything an event changes, without tenant ids and the times rows were written."""
    queries = {
        "contacts": "SELECT id, score, version FROM contacts WHERE tenant_id = :t ORDER BY id",
        "facets": "SELECT contact_id, facet, value FROM contact_facets WHERE tenant_id = :t "
        "ORDER BY contact_id, facet",
        "tags": "SELECT contact_id, tag FROM contact_tags WHERE tenant_id = :t "
        "ORDER BY contact_id, tag",
        "events": "SELECT id, contact_id, kind, status, error FROM events "
        "WHERE tenant_id = :t ORDER BY seq",
        "transitions": "SELECT contact_id, version, target, name, old, new, cause_type, "
        "pack, rule, event_id FROM transitions WHERE tenant_id = :t "
        "ORDER BY contact_id, version",
        "actions": "SELECT contact_id, kind, status FROM scheduled_actions "
        "WHERE tenant_id = :t ORDER BY id",
    }
    with crm.db.connect() as conn:
        tenant_id = conn.execute(
            sa.text("SELECT id FROM tenants WHERE name = :n"), {"n": tenant.name}
        ).scalar_one()
        return {
            name: [tuple(row) for row in conn.execute(sa.text(query), {"t": tenant_id})]
            for name, query in queries.items()
        }


def one_by_one(tenant: Tenant, items: list[dict[str, Any]]) -> None:
    for item in items:
        # A failure is stored as a failed event, or (unknown contact) not stored: as
        # ingest does.
        with contextlib.suppress(CRMError):
            tenant.record_event(
                item["contact"], item["kind"], item["data"], id=item["id"], at=item["at"]
            )


def test_three_events_that_crashed_batched_ingest_apply_as_one_by_one(crm: CRM) -> None:
    """A engages (its status moves, so the hook rewrites A), an already engaged B
    engages (no status move: the batch writes B alone), then A engages again: the third
    batch used to write A from the state the first batch carried."""
    reference, batched = new_tenant(crm), new_tenant(crm)
    email = ENGAGEMENTS[0]
    warm_up = [(2, ("engagement", email)), (2, ("engagement", email))]
    history = [*warm_up, (1, ("engagement", email)), (2, ("engagement", email))]
    history.append((1, ("engagement", email)))
    items = as_items(history)
    one_by_one(reference, items)
    batched.ingest(items[:2])
    summary = batched.ingest(items[2:], batch_size=1)
    assert (summary.applied, summary.failed) == (3, 0)
    assert state_of(crm, batched) == state_of(crm, reference)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(history=histories, batch_size=st.sampled_from(BATCH_SIZES))
def test_any_batch_size_ends_where_one_by_one_does(
    crm: CRM, history: list[tuple[int, tuple[str, dict[str, Any]]]], batch_size: int
) -> None:
    items = as_items(history)
    reference, batched = new_tenant(crm), new_tenant(crm)
    one_by_one(reference, items)
    summary = batched.ingest(items, batch_size=batch_size)
    assert summary.total == len(items)
    assert state_of(crm, batched) == state_of(crm, reference)
