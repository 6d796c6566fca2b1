"""The vendor's own tests, with crmkit's pytest plugin fixtures."""

from __future__ import annotations

import pytest

from crmkit import CRM, Tenant
from crmkit.clock import MovableClock
from crmkit.rules.checker import check_packs
from crmkit.scenarios.outbox import CapturedMessages


def test_the_pack_is_installed_through_its_entry_point(crmkit_crm: CRM) -> None:
    pack = crmkit_crm.packs.resolve("followup")
    assert pack.ref == "followup@1.1.0"
    assert crmkit_crm.packs.providers[pack.ref] == "followup"


def test_the_rules_have_no_problems(crmkit_crm: CRM) -> None:
    assert check_packs(crmkit_crm, [crmkit_crm.packs.resolve("followup")]) == []


@pytest.mark.crmkit_packs("followup")
def test_the_text_is_rendered_from_the_pack_template(
    crmkit_tenant: Tenant, crmkit_clock: MovableClock, crmkit_messages: CapturedMessages
) -> None:
    ada = crmkit_tenant.add_contact({"first_name": "Ada", "phone": "+1 415 555 0100"})
    crmkit_tenant.record_event(ada.id, "quote_sent")
    (action,) = crmkit_tenant.actions(ada.id)
    assert action.template == "followup:followup_text.txt.j2"
    crmkit_clock.advance(days=2)
    crmkit_tenant.tick()
    (text,) = crmkit_tenant.messages(ada.id)
    assert text.body.startswith("Hi Ada, did you have a chance to look at our quote?")
    # Captured by the test kit's fake transport, never sent.
    (sent,) = crmkit_messages.to_contact(ada.id)
    assert (sent.kind, sent.to, sent.body) == ("text", "+14155550100", text.body)


def test_the_follow_up_works_beside_17hats(crmkit_tenants) -> None:  # type: ignore[no-untyped-def]
    tenant = crmkit_tenants("acme", ["17hats", "followup"])
    ada = tenant.add_contact({"first_name": "Ada"})
    tenant.record_event(ada.id, "lead_form_submitted")
    tenant.record_event(ada.id, "quote_sent")
    tenant.record_event(ada.id, "quote_accepted")
    assert tenant.get_contact(ada.id).facets == {"contact_type": "client", "followup": "answered"}
