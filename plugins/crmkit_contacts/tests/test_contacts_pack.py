"""The contacts pack: lead status, noun, groups, segments and filters."""

from __future__ import annotations

from typing import Any

import pytest
from crmkit_contacts.groups import Groups
from crmkit_contacts.segments import Segments

from crmkit import CRM, Tenant
from crmkit.errors import ConditionError, NotFoundError, PolicyError, ValidationError
from crmkit.filters import build_filter
from crmkit.testing.support import FrozenClock, snapshot


@pytest.fixture
def book(crm: CRM) -> Tenant:
    return crm.configure_tenant("book", ["contacts"])


def add(tenant: Tenant, first: str, **extra: Any) -> int:
    return tenant.add_contact({"first_name": first, **extra}).id


def status(tenant: Tenant, contact_id: int) -> str:
    return tenant.get_contact(contact_id).facets["lead_status"]


def names(contacts: list[Any]) -> list[str]:
    return [c.first_name for c in contacts]


# ------------------------------------------------------------------ lead status
def test_lead_status_moves_through_outreach_meeting_and_conversion(book: Tenant) -> None:
    contact = add(book, "Ada")
    assert status(book, contact) == "new"
    book.record_event(contact, "email_sent")
    assert status(book, contact) == "contacted"
    book.record_event(contact, "meeting_held")
    assert status(book, contact) == "qualified"
    book.record_event(contact, "lead_converted")
    assert status(book, contact) == "converted"
    book.set_facet(contact, "lead_status", "unqualified")
    assert status(book, contact) == "unqualified"


def test_converted_is_only_set_by_converting(book: Tenant) -> None:
    contact = add(book, "Ada")
    before = snapshot(book.crm)
    with pytest.raises(
        PolicyError, match="'converted' of facet 'lead_status' is set by rules only"
    ):
        book.set_facet(contact, "lead_status", "converted")
    assert snapshot(book.crm) == before


def test_a_tenant_names_its_contacts(book: Tenant) -> None:
    assert (book.noun(), book.noun(plural=True)) == ("contact", "contacts")
    book.update_settings({"contact_noun": "Patient", "contact_noun_plural": "Patients"})
    assert (book.noun(), book.noun(plural=True)) == ("Patient", "Patients")


# ------------------------------------------------------------------ groups
@pytest.fixture
def people(book: Tenant) -> dict[str, int]:
    return {
        "Ada": add(book, "Ada", industry="Engineering", city="London", lead_source="referral"),
        "Bob": add(book, "Bob", industry="Retail", city="Leeds", lead_source="web"),
        "Cy": add(book, "Cy", industry="Engineering", country="Ireland", lead_source="web"),
    }


def test_groups_by_hand_and_from_a_filter(book: Tenant, people: dict[str, int]) -> None:
    groups = Groups(book)
    groups.create("VIP", "best customers")
    groups.create("Engineers")
    assert groups.add("VIP", [people["Ada"], people["Bob"]]) == 2
    assert groups.add("VIP", [people["Ada"]]) == 0
    assert groups.add_matching("Engineers", 'contact.industry == "Engineering"') == 2
    assert groups.add_matching("Engineers", 'contact.industry == "Engineering"') == 0
    assert names(groups.members("VIP")) == ["Ada", "Bob"]
    assert names(groups.members("Engineers")) == ["Ada", "Cy"]
    assert groups.of(people["Ada"]) == ["Engineers", "VIP"]  # a contact in many groups
    assert groups.remove("VIP", [people["Bob"]]) == 1
    assert [(g["name"], g["members"]) for g in groups.all()] == [("Engineers", 2), ("VIP", 1)]
    groups.delete("VIP")
    assert groups.of(people["Ada"]) == ["Engineers"]


def test_group_bad_inputs_change_nothing(book: Tenant, people: dict[str, int]) -> None:
    groups = Groups(book)
    groups.create("VIP")
    before = snapshot(book.crm)
    with pytest.raises(NotFoundError, match="group 'Nope' does not exist"):
        groups.add("Nope", [people["Ada"]])
    with pytest.raises(NotFoundError, match="contact 99 does not exist"):
        groups.add("VIP", [people["Ada"], 99])
    with pytest.raises(ConditionError, match="unknown path 'contact.mood'"):
        groups.add_matching("VIP", "contact.mood == happy")
    with pytest.raises(ValidationError, match="already exists"):
        groups.create("VIP")
    assert snapshot(book.crm) == before


# ------------------------------------------------------------------ segments
def test_segments_are_evaluated_when_used(book: Tenant, people: dict[str, int]) -> None:
    segments = Segments(book)
    segments.save("web leads", 'contact.lead_source == "web" and contact.lead_status == new')
    assert names(segments.run("web leads")) == ["Bob", "Cy"]
    add(book, "Dee", lead_source="web")
    book.record_event(people["Bob"], "email_sent")  # Bob is contacted now
    assert names(segments.run("web leads")) == ["Cy", "Dee"]
    assert [s["name"] for s in segments.all()] == ["web leads"]


def test_segments_on_engagement_and_last_contact(
    book: Tenant, people: dict[str, int], clock: FrozenClock
) -> None:
    segments = Segments(book)
    for _ in range(3):
        book.record_event(people["Ada"], "email_opened")
    clock.advance(days=40)
    book.record_event(people["Bob"], "email_opened")
    segments.save("engaged", "contact.engagement >= 1")
    segments.save("gone quiet", "contact.last_interaction < 30 days ago")
    segments.save("never", 'not contact.last_interaction > "2000-01-01"')
    assert names(segments.run("engaged")) == ["Bob"]  # Ada's events are 40 days old
    assert names(segments.run("gone quiet")) == ["Ada"]
    assert names(segments.run("never")) == []  # no interaction: comparisons are false


def test_segment_bad_inputs_change_nothing(book: Tenant) -> None:
    segments = Segments(book)
    before = snapshot(book.crm)
    with pytest.raises(ConditionError, match="ends too early"):
        segments.save("broken", "contact.lead_status ==")
    with pytest.raises(ConditionError, match="'hot' is not a value of facet 'lead_status'"):
        segments.save("broken", "contact.lead_status == hot")
    with pytest.raises(NotFoundError, match="saved search 'nope' does not exist"):
        segments.run("nope")
    assert snapshot(book.crm) == before


# ------------------------------------------------------------------ filters
def test_filters_on_location_industry_last_interaction_and_facets(
    book: Tenant, people: dict[str, int], clock: FrozenClock
) -> None:
    def found(**filters: Any) -> list[str]:
        return names(book.list_contacts(build_filter(**filters)))

    assert found(location="London") == ["Ada"]
    assert found(location="Ireland") == ["Cy"]
    assert found(industry="Engineering") == ["Ada", "Cy"]
    assert found(lead_source="web", industry="Retail") == ["Bob"]
    book.record_event(people["Cy"], "email_sent")
    assert found(facets={"lead_status": "contacted"}) == ["Cy"]
    clock.advance(days=10)
    assert found(interacted_since="7 days ago") == []
    assert found(interacted_since="30 days ago") == ["Cy"]
    assert found(not_interacted_since="7 days ago") == ["Cy"]
    assert found(location='x" or 1 == 1 or contact.city == "y') == []
