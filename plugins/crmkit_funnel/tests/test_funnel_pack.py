"""The funnel pack: forward-only roles, portal logins, permissions, Company First."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crmkit_funnel.company import convert_account
from crmkit_funnel.portal import Portal
from crmkit_funnel.tables import PortalCredentialRow

from crmkit import CRM, Tenant, hookimpl
from crmkit.errors import ConfigError, PolicyError, ValidationError
from crmkit.storage.models import EventRow
from crmkit.testing.support import FrozenClock, PackPlugin, snapshot


class Inbox:
    """Collects notices, like a mail plugin would deliver them."""

    def __init__(self) -> None:
        self.notices: list[tuple[int, str, dict[str, Any]]] = []

    @hookimpl
    def crmkit_on_notice(
        self, tenant: str, contact_id: int, kind: str, data: dict[str, Any]
    ) -> None:
        self.notices.append((contact_id, kind, data))


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def crm_with_inbox(db_url: str, clock: FrozenClock, inbox: Inbox) -> CRM:
    crm = CRM(db_url, clock=clock, plugins=[inbox])
    crm.migrate()
    return crm


@pytest.fixture
def shop(crm_with_inbox: CRM) -> Tenant:
    return crm_with_inbox.configure_tenant("shop", ["funnel"])


def add(tenant: Tenant, **extra: Any) -> int:
    return tenant.add_contact({"first_name": "Ada", "last_name": "Lovelace", **extra}).id


def role(tenant: Tenant, contact_id: int) -> str:
    return tenant.get_contact(contact_id).facets["role"]


# ------------------------------------------------------------------ forward only
@pytest.mark.parametrize(
    ("start", "target"), [("lead", "prospect"), ("lead", "client"), ("prospect", "client")]
)
def test_conversion_moves_forward(shop: Tenant, start: str, target: str) -> None:
    contact = add(shop, facets={"role": start})
    shop.set_facet(contact, "role", target, actor="mia")
    assert role(shop, contact) == target


@pytest.mark.parametrize(
    ("start", "target"), [("client", "lead"), ("client", "prospect"), ("prospect", "lead")]
)
def test_a_backward_move_is_refused_and_changes_nothing(
    shop: Tenant, start: str, target: str
) -> None:
    contact = add(shop, facets={"role": start})
    before = snapshot(shop.crm)
    with pytest.raises(PolicyError, match=f"'{start}' to '{target}' is refused"):
        shop.set_facet(contact, "role", target)
    assert snapshot(shop.crm) == before


def test_a_rule_cannot_move_a_role_back(db_url: str, tmp_path: Path) -> None:
    demote = (
        "rules:\n  - name: demote\n    when: event.kind == demote\n"
        "    then: [{set: {role: lead}}]\n"
    )
    crm = CRM(db_url, plugins=[PackPlugin(tmp_path, {"demoter": demote}, facets=())])
    crm.migrate()
    tenant = crm.configure_tenant("t", ["funnel", "demoter"])
    contact = add(tenant, facets={"role": "client"})
    with pytest.raises(PolicyError, match="demoter@1.0.0:demote.*'client' to 'lead' is refused"):
        tenant.record_event(contact, "demote", id="d1")
    assert role(tenant, contact) == "client"


def test_rules_make_prospects_and_clients(shop: Tenant) -> None:
    contact = add(shop)
    shop.record_event(contact, "estimate_requested")
    assert role(shop, contact) == "prospect"
    shop.record_event(contact, "contract_signed")
    assert role(shop, contact) == "client"
    steps = [(t.new, t.cause) for t in shop.explain(contact, "role")]
    assert steps == [
        ("prospect", "funnel@1.0.0:asking for an offer makes a prospect"),
        ("client", "funnel@1.0.0:doing business makes a client"),
    ]


# ------------------------------------------------------------------ portal
def test_a_lead_has_no_portal_login(shop: Tenant) -> None:
    contact = add(shop)
    status = Portal(shop).status(contact)
    assert (status["may_log_in"], status["reason"]) == (False, "a lead has no portal login")
    with pytest.raises(PolicyError, match="a lead has no portal login"):
        Portal(shop).invite(contact)


def test_becoming_a_prospect_creates_credentials_with_a_hashed_one_time_token(
    shop: Tenant, inbox: Inbox, clock: FrozenClock
) -> None:
    contact = add(shop, email="ada@example.com")
    shop.set_facet(contact, "role", "prospect", actor="mia")
    [(notified, kind, data)] = inbox.notices
    assert (notified, kind, data["username"]) == (contact, "portal_invitation", "ada@example.com")
    token = data["token"]
    with shop.crm.db.connect() as conn:
        stored = conn.execute(sa.select(PortalCredentialRow)).one()
    assert token not in (stored.token_hash or "") and stored.token_hash.startswith("scrypt$")
    assert stored.password_hash is None
    portal = Portal(shop)
    assert portal.status(contact)["reason"] == "the password has not been set yet"
    assert portal.set_password("ada@example.com", token, "correct horse") == contact
    with shop.crm.db.connect() as conn:
        stored = conn.execute(sa.select(PortalCredentialRow)).one()
    assert (
        stored.password_hash.startswith("scrypt$") and "correct horse" not in stored.password_hash
    )
    assert stored.token_hash is None
    assert portal.authenticate("ada@example.com", "correct horse") == contact
    assert portal.may_log_in(contact)
    with pytest.raises(PolicyError, match="invalid or already used"):
        portal.set_password("ada@example.com", token, "another password")
    with pytest.raises(PolicyError, match="wrong username or password"):
        portal.authenticate("ada@example.com", "wrong password")


def test_set_password_tokens_expire_and_a_new_invitation_replaces_the_old(
    shop: Tenant, inbox: Inbox, clock: FrozenClock
) -> None:
    contact = add(shop, facets={"role": "prospect"})
    first = inbox.notices[0][2]["token"]
    clock.advance(hours=73)
    portal = Portal(shop)
    with pytest.raises(PolicyError, match="expired"):
        portal.set_password("ada.lovelace", first, "correct horse")
    second = portal.invite(contact)
    with pytest.raises(PolicyError, match="invalid or already used"):
        portal.set_password("ada.lovelace", first, "correct horse")
    with pytest.raises(ValidationError, match="at least 8"):
        portal.set_password("ada.lovelace", second["token"], "short")
    assert portal.set_password("ada.lovelace", second["token"], "correct horse") == contact


def test_usernames_are_unique_per_tenant(shop: Tenant) -> None:
    a = add(shop, facets={"role": "client"})
    b = add(shop, facets={"role": "client"})
    assert Portal(shop).status(a)["username"] == "ada.lovelace"
    assert Portal(shop).status(b)["username"] == "ada.lovelace2"


# ------------------------------------------------------------------ permissions
@pytest.mark.parametrize(
    ("start", "kind", "allowed"),
    [
        ("lead", "invoice_sent", False),
        ("prospect", "invoice_sent", False),
        ("client", "invoice_sent", True),
        ("lead", "estimate_sent", False),
        ("prospect", "estimate_sent", True),
        ("prospect", "proposal_sent", True),
        ("lead", "private_message_sent", False),
        ("client", "private_material_shared", True),
        ("lead", "email_opened", True),
    ],
)
def test_what_each_role_may_receive(shop: Tenant, start: str, kind: str, allowed: bool) -> None:
    contact = add(shop, facets={"role": start})
    if allowed:
        assert shop.record_event(contact, kind).status == "applied"
        return
    before = snapshot(shop.crm)
    with pytest.raises(PolicyError, match=f"{kind} refused: only a .* may receive"):
        shop.record_event(contact, kind)
    assert snapshot(shop.crm) == before


def test_only_clients_can_be_assigned_to_projects(shop: Tenant) -> None:
    lead, client = add(shop), add(shop, facets={"role": "client"})
    before = snapshot(shop.crm)
    with pytest.raises(PolicyError, match="being assigned to a project"):
        shop.add_project("Wedding", lead)
    assert snapshot(shop.crm) == before
    project = shop.add_project("Wedding", client, {lead: "planner"})
    assert shop.get_project(project)["related"] == [{"contact": lead, "role": "planner"}]


def test_ingest_counts_a_refused_event_as_failed_and_stores_nothing_of_it(shop: Tenant) -> None:
    contact = add(shop)
    summary = shop.ingest(
        [
            {"id": "1", "contact": contact, "kind": "invoice_sent"},
            {"id": "2", "contact": contact, "kind": "contract_signed"},
            {"id": "3", "contact": contact, "kind": "invoice_sent"},
        ]
    )
    assert (summary.applied, summary.failed) == (2, 1)
    assert "invoice_sent refused" in summary.errors[0]
    with shop.crm.db.connect() as conn:
        assert set(conn.scalars(sa.select(EventRow.id))) == {"2", "3"}


# ------------------------------------------------------------------ Company First
@pytest.fixture
def company(shop: Tenant) -> tuple[Tenant, list[int]]:
    shop.update_settings({"company_first": True})
    members = [
        shop.add_contact({"first_name": name, "account": "Engines"}).id
        for name in ("Ada", "Charles", "Mary")
    ]
    return shop, members


def test_company_first_contacts_follow_their_account(company: tuple[Tenant, list[int]]) -> None:
    tenant, members = company
    loner = add(tenant)
    tenant.set_facet(members[0], "role", "prospect", actor="mia")
    assert [role(tenant, m) for m in members] == ["prospect"] * 3
    assert role(tenant, loner) == "lead"
    tenant.record_event(members[2], "contract_signed", id="deal")
    assert [role(tenant, m) for m in members] == ["client"] * 3
    for member in members:
        steps = [(t.new, t.event_id) for t in tenant.explain(member, "role")]
        assert steps == [("prospect", None), ("client", "deal")]  # one transition per move
    newcomer = tenant.add_contact({"first_name": "Ann", "account": "Engines"}).id
    assert role(tenant, newcomer) == "client"
    assert tenant.explain(newcomer, "role")[0].cause == "manual (company first)"


def test_converting_an_account_converts_its_contacts(company: tuple[Tenant, list[int]]) -> None:
    tenant, members = company
    changes = convert_account(tenant, "Engines", "client", actor="mia")
    assert sorted(c.contact_id for c in changes) == members
    assert {c.cause for c in changes} == {"manual (mia)"}
    before = snapshot(tenant.crm)
    with pytest.raises(PolicyError, match="already a client; roles only move forward"):
        convert_account(tenant, "Engines", "prospect", actor="mia")
    assert snapshot(tenant.crm) == before


def test_without_company_first_contacts_move_alone(shop: Tenant) -> None:
    members = [shop.add_contact({"first_name": n, "account": "Engines"}).id for n in "AB"]
    shop.set_facet(members[0], "role", "client")
    assert [role(shop, m) for m in members] == ["client", "lead"]
    with pytest.raises(ConfigError, match="not in Company First mode"):
        convert_account(shop, "Engines", "client", actor="mia")
