"""Storage: migrations, tenant scoping, SQL filters, accounts, projects and notes."""

from __future__ import annotations

from datetime import timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from support import snapshot

from crmkit import CRM, Tenant
from crmkit.errors import ConfigError, NotFoundError, ValidationError
from crmkit.storage.models import Base, ContactRow
from crmkit.storage.scope import TenantScope


def test_migrations_build_exactly_the_models_schema(crm: CRM) -> None:
    with crm.db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrating_twice_is_harmless_and_keeps_data(crm: CRM, acme: Tenant) -> None:
    contact = acme.add_contact({"first_name": "Ada"}).id
    crm.migrate()
    assert acme.get_contact(contact).first_name == "Ada"


def test_an_unmigrated_database_says_to_run_init(tmp_path: object) -> None:
    crm = CRM(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(ConfigError, match="run `crmkit init`"):
        crm.tenant("acme")


def test_every_table_leads_its_primary_key_with_tenant_id() -> None:
    for name, table in Base.metadata.tables.items():
        if name == "tenants":
            continue
        assert table.primary_key.columns.keys()[0] == "tenant_id", name


def test_one_tenant_never_sees_another_tenants_contacts(crm: CRM) -> None:
    a = crm.configure_tenant("a", ["17hats"])
    b = crm.configure_tenant("b", ["17hats"])
    ada = a.add_contact({"first_name": "Ada", "tags": ["vip"]}).id
    bob = b.add_contact({"first_name": "Bob", "tags": ["vip"]}).id
    assert ada == bob == 1  # ids are per tenant
    assert [c.first_name for c in a.list_contacts()] == ["Ada"]
    assert [c.first_name for c in b.list_contacts("contact.tags has vip")] == ["Bob"]
    b.record_event(bob, "lead_form_submitted")
    assert a.get_contact(ada).facets["contact_type"] == "other"
    assert [t.cause_type for t in a.explain(ada)] == ["manual"]  # only its own tag


def test_the_scope_layer_refuses_rows_of_another_tenant() -> None:
    with pytest.raises(ValueError, match="row for tenant 2 written through tenant 1"):
        TenantScope(1).rows([{"tenant_id": 2, "id": 5}])
    stmt = TenantScope(7).select(ContactRow.id)
    assert "contacts.tenant_id = " in str(stmt)


def test_list_filters_run_as_sql_over_facets_tags_fields_and_attributes(acme: Tenant) -> None:
    acme.add_contact(
        {
            "first_name": "Ada",
            "email": "ada@example.com",
            "account": "Engines",
            "facets": {"contact_type": "client"},
            "tags": ["vip"],
            "fields": {"branch": "London", "employees": 12},
        }
    )
    acme.add_contact(
        {
            "first_name": "Bob",
            "facets": {"contact_type": "hot_lead"},
            "fields": {"branch": "Leeds", "employees": 3},
        }
    )
    acme.add_contact({"first_name": "Cy"})

    def names(where: str) -> list[str]:
        return [c.first_name for c in acme.list_contacts(where)]

    assert names("contact.contact_type == client") == ["Ada"]
    assert names("contact.contact_type in [client, hot_lead]") == ["Ada", "Bob"]
    assert names("not contact.contact_type == other") == ["Ada", "Bob"]
    assert names("contact.tags not has vip") == ["Bob", "Cy"]
    assert names('contact.fields.branch == "Leeds"') == ["Bob"]
    assert names("contact.fields.employees > 5") == ["Ada"]
    assert names('contact.account == "Engines"') == ["Ada"]
    # A missing value makes any comparison false, negated or not.
    assert names('contact.email != "x@example.com"') == ["Ada"]
    assert names("contact.first_name == Ada or contact.first_name == Cy") == ["Ada", "Cy"]
    assert names('contact.first_name == "x\' OR 1=1 --"') == []


def test_list_rejects_an_invalid_filter_clearly(acme: Tenant) -> None:
    from crmkit.errors import ConditionError

    with pytest.raises(ConditionError, match="event paths are only allowed in rules"):
        acme.list_contacts("event.kind == x")


def test_times_come_back_as_aware_utc(acme: Tenant) -> None:
    created = acme.add_contact({"first_name": "Ada"}).created_at
    assert created.tzinfo is not None
    assert created.utcoffset() == timezone.utc.utcoffset(None)


def test_accounts_projects_and_notes(acme: Tenant) -> None:
    ada = acme.add_contact({"first_name": "Ada", "account": "Engines"})
    bob = acme.add_contact({"first_name": "Bob", "account": "Engines"})
    assert ada.account == bob.account == "Engines"
    assert acme.add_account("Engines") == acme.add_account("Engines")
    project = acme.add_project("Wedding", ada.id, {bob.id: "planner"})
    assert acme.get_project(project) == {
        "id": project,
        "name": "Wedding",
        "primary_contact": ada.id,
        "related": [{"contact": bob.id, "role": "planner"}],
    }
    acme.add_note(ada.id, "Prefers calls", author="sam")
    assert [n["body"] for n in acme.notes(ada.id)] == ["Prefers calls"]
    before = snapshot(acme.crm)
    with pytest.raises(NotFoundError):
        acme.add_project("Ghost", 99)
    with pytest.raises(ValidationError, match="needs a role"):
        acme.add_project("P", ada.id, {bob.id: " "})
    with pytest.raises(ValidationError, match="needs a body"):
        acme.add_note(ada.id, "  ")
    assert snapshot(acme.crm) == before


def test_adding_a_pack_gives_existing_contacts_its_default_facets(crm: CRM) -> None:
    tenant = crm.configure_tenant("t", [])
    contact = tenant.add_contact({"first_name": "Ada"}).id
    assert tenant.get_contact(contact).facets == {}
    crm.configure_tenant("t", ["17hats"])
    assert tenant.get_contact(contact).facets == {"contact_type": "other"}
    with crm.db.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(ContactRow)) == 1


def test_bulk_writes_keep_every_value_and_refuse_duplicates_as_a_whole(acme: Tenant) -> None:
    """Batches of 20 rows or more go as one statement of arrays on PostgreSQL (executemany
    on SQLite): JSON, times and text come back as they went in, and a key conflict is an
    IntegrityError that leaves nothing of the batch behind."""
    from datetime import datetime, timedelta

    from crmkit.pipeline import EVENT_COLUMNS
    from crmkit.storage.bulk import BulkWriter
    from crmkit.storage.models import EventRow

    contact = acme.add_contact({"first_name": "Bulk"}).id
    with acme.crm.db.connect() as conn:
        tenant_id = acme.runtime(conn).tenant_id
    start = datetime(2026, 2, 1, 8, tzinfo=timezone.utc)
    odd = ['quote " and \\ backslash', "emoji \U0001f600", "{braces},commas", "", None]
    datas = [{"i": i, "v": odd[i % len(odd)], "nested": {"l": [1, None, "x"]}} for i in range(30)]
    rows = [
        (
            tenant_id,
            f"b{i}",
            10_000 + i,
            contact,
            "bulk_kind",
            data,
            start + timedelta(seconds=i),
            start,
            "applied",
            None if i % 2 else 'why, "so"',
            10_000,
        )
        for i, data in enumerate(datas)
    ]
    with acme.crm.db.begin() as conn:
        BulkWriter(conn).insert(EventRow, EVENT_COLUMNS, rows)
    e = EventRow.__table__.c
    with acme.crm.db.connect() as conn:
        stored = conn.execute(
            sa.select(e.id, e.data, e.occurred_at, e.error)
            .where(e.kind == "bulk_kind")
            .order_by(e.seq)
        ).all()
    assert [(r.id, r.data, r.occurred_at, r.error) for r in stored] == [
        (row[1], row[5], row[6], row[9]) for row in rows
    ]
    clash = [(*row[:1], f"c{i}", *row[2:]) for i, row in enumerate(rows)] + [rows[0]]
    with pytest.raises(sa.exc.IntegrityError), acme.crm.db.begin() as conn:
        BulkWriter(conn).insert(EventRow, EVENT_COLUMNS, clash)
    with acme.crm.db.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).where(e.id.like("c%"))) == 0
