"""The 17hats Contacts and Leads pages, projects, and packs composed in one tenant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from crmkit_17hats.pages import contacts_page, leads_page

from crmkit import CRM, Tenant
from crmkit.errors import ConfigError, NotFoundError, PolicyError
from crmkit.testing.support import FrozenClock, snapshot


@pytest.fixture
def acme(crm: CRM) -> Tenant:
    """A tenant using the 17hats pack."""
    return crm.configure_tenant("acme", ["17hats"])


def add(tenant: Tenant, first: str, kind: str = "other", **extra: Any) -> int:
    return tenant.add_contact({"first_name": first, "facets": {"contact_type": kind}, **extra}).id


def page_names(groups: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [(g["letter"], [c.first_name for c in g["contacts"]]) for g in groups]


def test_contacts_page_is_alphabetical_by_first_name_under_letters(acme: Tenant) -> None:
    for first, kind in [
        ("bob", "client"),
        ("Alice", "hot_lead"),
        ("Zoe", "client"),
        ("Anna", "other"),
        ("4U Ltd", "client"),
        ("Ben", "cold_prospect"),
    ]:
        add(acme, first, kind)
    assert page_names(contacts_page(acme)) == [
        ("#", ["4U Ltd"]),
        ("A", ["Alice", "Anna"]),
        ("B", ["Ben", "bob"]),
        ("Z", ["Zoe"]),
    ]
    assert page_names(contacts_page(acme, ["client"])) == [
        ("#", ["4U Ltd"]),
        ("B", ["bob"]),
        ("Z", ["Zoe"]),
    ]
    with pytest.raises(PolicyError, match="'vip' is not a value of facet 'contact_type'"):
        contacts_page(acme, ["vip"])


def test_leads_page_overview_and_all(acme: Tenant, clock: FrozenClock) -> None:
    quiet = add(acme, "Quinn", "hot_lead")
    busy = add(acme, "Bea", "hot_lead")
    add(acme, "Cole", "cold_prospect")
    add(acme, "Cal", "client")
    clock.advance(days=10)  # Quinn and Bea are no longer new
    acme.record_event(busy, "email_opened")
    fresh = add(acme, "Fay")
    acme.record_event(fresh, "lead_form_submitted")
    overview = leads_page(acme)
    assert [c.first_name for c in overview["new"]] == ["Fay"]
    assert [c.first_name for c in overview["active"]] == ["Bea"]
    assert quiet not in [c.id for c in overview["new"] + overview["active"]]
    assert [c.first_name for c in leads_page(acme, "all")["all"]] == ["Bea", "Cole", "Fay", "Quinn"]
    acme.update_settings({"hats_new_days": 30})
    assert [c.first_name for c in leads_page(acme)["new"]] == ["Bea", "Fay", "Quinn"]


def test_a_contact_can_be_related_to_many_projects(acme: Tenant) -> None:
    client, planner = add(acme, "Ada", "client"), add(acme, "Pia")
    wedding = acme.add_project("Wedding", client, {planner: "planner"})
    shoot = acme.add_project("Portraits", add(acme, "Cal", "client"))
    acme.add_related(shoot, planner, "stylist")
    assert [p["name"] for p in acme.list_projects(planner)] == ["Wedding", "Portraits"]
    assert [p["name"] for p in acme.list_projects(client)] == ["Wedding"]
    before = snapshot(acme.crm)
    with pytest.raises(NotFoundError, match="project 99 does not exist"):
        acme.add_related(99, planner, "x")
    assert snapshot(acme.crm) == before
    assert acme.get_project(wedding)["primary_contact"] == client


# ------------------------------------------------------------------ composition
@pytest.fixture
def studio(crm: CRM) -> Tenant:
    return crm.configure_tenant("studio", ["17hats", "funnel", "contacts"])


def facets(tenant: Tenant, contact_id: int) -> dict[str, str]:
    return tenant.get_contact(contact_id).facets


def test_one_event_moves_each_pack_by_its_own_rules(studio: Tenant) -> None:
    contact = add(studio, "Ada")
    studio.record_event(contact, "lead_form_submitted")
    assert facets(studio, contact) == {
        "contact_type": "hot_lead",
        "role": "lead",
        "lead_status": "new",
    }
    result = studio.record_event(contact, "contract_signed", id="deal")
    assert facets(studio, contact) == {
        "contact_type": "client",
        "role": "client",
        "lead_status": "new",
    }
    assert sorted(c.cause for c in result.changes) == [
        "17hats@1.0.0:hot lead becomes a client",
        "funnel@1.0.0:doing business makes a client",
    ]


def test_converting_a_lead_moves_every_pack_through_its_rules(studio: Tenant) -> None:
    contact = add(studio, "Ada", "cold_prospect")
    studio.record_event(contact, "lead_converted", id="conv")
    assert facets(studio, contact) == {
        "contact_type": "client",
        "role": "client",
        "lead_status": "converted",
    }
    assert {t.name: t.rule for t in studio.explain(contact) if t.event_id == "conv"} == {
        "contact_type": "a converted lead becomes a client",
        "role": "doing business makes a client",
        "lead_status": "converting a lead makes a customer",
    }


def test_a_tenant_with_one_pack_is_unaffected_by_the_others(crm: CRM) -> None:
    hats = crm.configure_tenant("hats", ["17hats"])
    book = crm.configure_tenant("book", ["contacts"])
    funnel = crm.configure_tenant("funnel", ["funnel"])
    a, b = add(hats, "Ada"), book.add_contact({"first_name": "Bob"}).id
    c = funnel.add_contact({"first_name": "Cy"}).id
    for tenant, contact in ((hats, a), (book, b), (funnel, c)):
        for kind in ("estimate_requested", "email_sent", "contract_signed"):
            tenant.record_event(contact, kind)
    assert facets(hats, a) == {"contact_type": "other"}  # not a hot lead, so no client
    assert facets(book, b) == {"lead_status": "contacted"}
    assert facets(funnel, c) == {"role": "client"}
    hats.record_event(a, "invoice_sent")  # no funnel here: invoices are not restricted
    assert facets(hats, a) == {"contact_type": "other"}


# ------------------------------------------------------------------ the tick
def test_quiet_hot_leads_go_cold_at_the_tick(acme: Tenant, clock: FrozenClock) -> None:
    quiet = add(acme, "Quinn", "hot_lead")
    chatty = add(acme, "Chet", "hot_lead")
    clock.advance(days=50)
    acme.record_event(chatty, "email_opened")
    clock.advance(days=11)  # Quinn: 61 quiet days; Chet: 11
    summary = acme.tick()
    assert summary.by_rule == {"17hats@1.0.0:quiet hot leads go cold": 1}
    assert acme.get_contact(quiet).facets["contact_type"] == "cold_prospect"
    assert acme.get_contact(chatty).facets["contact_type"] == "hot_lead"
    [step] = acme.explain(quiet, "contact_type")[-1:]
    assert (step.cause, step.event_id, step.at) == (
        "17hats@1.0.0:quiet hot leads go cold",
        None,
        clock.now,
    )
    assert acme.tick().changes == 0


def test_the_cold_after_days_setting_and_an_explicit_tick_time(
    acme: Tenant, clock: FrozenClock
) -> None:
    lead = add(acme, "Lee", "hot_lead")
    acme.update_settings({"hats_cold_after_days": 5})
    assert acme.tick(clock.now + timedelta(days=4)).changes == 0
    assert acme.tick(clock.now + timedelta(days=6)).changes == 1
    assert acme.get_contact(lead).facets["contact_type"] == "cold_prospect"
    before = snapshot(acme.crm)
    with pytest.raises(ConfigError, match='setting hats_cold_after_days = "5 or 1 == 1"'):
        acme.update_settings({"hats_cold_after_days": "5 or 1 == 1"})
    assert snapshot(acme.crm) == before
    # A value stored before settings were checked still stops the tick with its reason.
    store_settings_unchecked(acme, {"hats_cold_after_days": "5 or 1 == 1"})
    with pytest.raises(PolicyError, match="must be a number or a word"):
        acme.tick()


def store_settings_unchecked(tenant: Tenant, values: dict[str, Any]) -> None:
    from sqlalchemy import update

    from crmkit.storage.models import TenantRow

    with tenant.crm.db.begin() as conn:
        merged = {**tenant.settings(), **values}
        conn.execute(
            update(TenantRow)
            .where(TenantRow.name == tenant.name)
            .values(settings=merged, config_version=TenantRow.config_version + 1)
        )
