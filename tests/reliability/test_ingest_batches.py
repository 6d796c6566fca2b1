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

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import ALL_PACKS, EVENT_KINDS, events_state
from support import ENGAGEMENTS as SHARED_ENGAGEMENTS

from crmkit import CRM, Tenant
from crmkit.errors import CRMError
from crmkit.testing.properties import examples

CONTACTS = 5
# Kinds beyond the shared list, so that every first-party ruleset has events to match.
KINDS = [*EVENT_KINDS, "invoice_paid", "contract_signed", "meeting_held", "message_sent"]
ENGAGEMENTS = [*SHARED_ENGAGEMENTS, {"channel": "facebook", "kind": "comment"}]
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


def new_tenant(crm: CRM, company_first: bool = False) -> Tenant:
    """A tenant of the five packs with contacts in two accounts (Company First moves an
    account's contacts together: a hook changing contacts other than the event's)."""
    tenant = crm.configure_tenant(next(tenant_names), ALL_PACKS, {"company_first": company_first})
    for n in range(CONTACTS):
        account = ["Initech", "Globex", None][n % 3]
        tenant.add_contact(
            {"first_name": f"C{n}", "email": f"c{n}@example.com", "account": account}
        )
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
    assert events_state(crm, batched.name) == events_state(crm, reference.name)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(history=histories, batch_size=st.sampled_from(BATCH_SIZES), company_first=st.booleans())
def test_any_batch_size_ends_where_one_by_one_does(
    crm: CRM,
    history: list[tuple[int, tuple[str, dict[str, Any]]]],
    batch_size: int,
    company_first: bool,
) -> None:
    items = as_items(history)
    reference, batched = new_tenant(crm, company_first), new_tenant(crm, company_first)
    one_by_one(reference, items)
    summary = batched.ingest(items, batch_size=batch_size)
    assert summary.total == len(items)
    assert events_state(crm, batched.name) == events_state(crm, reference.name)
