"""Tenant isolation: no read path of one tenant returns another tenant's rows, and one
tenant's rules never fire for another tenant's events, whatever the two hold."""

from __future__ import annotations

import csv
import io
import itertools

from crmkit_contacts.segments import SavedSearches, Segments
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import CRM, Tenant
from crmkit.replay import replay
from crmkit.testing.properties import examples

KINDS = ["lead_form_submitted", "engagement", "email_sent", "quote_accepted", "lead_converted"]
names = st.text("abcxyz", min_size=1, max_size=4)
contacts = st.lists(names, min_size=1, max_size=5)
events = st.lists(
    st.tuples(st.integers(min_value=1, max_value=5), st.sampled_from(KINDS)), max_size=12
)
serial = itertools.count()


def fill(
    crm: CRM, prefix: str, packs: list[str], people: list[str], log: list[tuple[int, str]]
) -> Tenant:
    tenant = crm.configure_tenant(f"{prefix}{next(serial)}", packs)
    ids = [tenant.add_contact({"first_name": f"{prefix}-{p}"}).id for p in people]
    for n, (contact, kind) in enumerate(log):
        if contact in ids:
            data = {"channel": "email", "kind": "reply"} if kind == "engagement" else {}
            tenant.record_event(contact, kind, data, id=f"{prefix}-{n}")
    return tenant


def only(prefix: str, first_names: list[str]) -> None:
    strangers = [name for name in first_names if not name.startswith(f"{prefix}-")]
    assert not strangers, f"tenant {prefix} was shown {strangers}"


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people_a=contacts, people_b=contacts, log_a=events, log_b=events)
def test_no_read_path_crosses_tenants(
    crm: CRM,
    people_a: list[str],
    people_b: list[str],
    log_a: list[tuple[int, str]],
    log_b: list[tuple[int, str]],
) -> None:
    # The two tenants share contact ids (both count from 1) and event kinds.
    a = fill(crm, "A", ["17hats", "contacts", "leadklozer"], people_a, log_a)
    b = fill(crm, "B", ["17hats", "funnel", "leadklozer"], people_b, log_b)
    for prefix, tenant, people in (("A", a, people_a), ("B", b, people_b)):
        listed = tenant.list_contacts(archived=None)
        assert len(listed) == len(people)
        only(prefix, [c.first_name for c in listed])
        for contact in listed:
            assert tenant.get_contact(contact.id).first_name == contact.first_name
            for change in tenant.explain(contact.id):
                # Rules fired only for this tenant's own events.
                assert change.event_id is None or change.event_id.startswith(f"{prefix}-")
        searched = tenant.list_contacts("contact.score >= 0 or contact.score < 0")
        only(prefix, [c.first_name for c in searched])
        searches = SavedSearches(tenant)
        searches.save("all", "contact.score >= 0")
        only(prefix, [c.first_name for c in searches.run("all")])
        segments = Segments(tenant)
        segments.save("everyone", "contact.score >= 0")
        only(prefix, [c.first_name for c in segments.run("everyone")])
        out = io.StringIO()
        tenant.export_contacts(out, format="csv")
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        only(prefix, [row["first_name"] for row in rows])
        result = replay(tenant, packs=["17hats", "contacts", "funnel", "leadklozer"])
        assert result.contacts == len(people)
        assert result.events == sum(
            1 for contact, _ in (log_a if prefix == "A" else log_b) if contact <= len(people)
        )
        only(prefix, [d.name for d in result.differences])
