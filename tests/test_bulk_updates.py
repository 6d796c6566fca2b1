"""Bulk updates by key: constant key columns bound once, varying ones unnested."""

from __future__ import annotations

import sqlalchemy as sa

from crmkit import CRM
from crmkit.storage.bulk import BulkWriter
from crmkit.storage.models import ContactFacetRow, ContactRow


def facets(crm: CRM, tenant_id: int) -> dict[tuple[int, str], str]:
    f = ContactFacetRow.__table__.c
    with crm.db.connect() as conn:
        rows = conn.execute(
            sa.select(f.contact_id, f.facet, f.value).where(f.tenant_id == tenant_id)
        )
        return {(row[0], row[1]): row[2] for row in rows}


def test_updates_with_constant_and_varying_keys_change_exactly_their_rows(crm: CRM) -> None:
    tenant = crm.configure_tenant("lk", ["leadklozer"])
    other = crm.configure_tenant("other", ["leadklozer"])
    ids = [tenant.add_contact({"first_name": f"C{n}"}).id for n in range(30)]
    other.add_contact({"first_name": "Elsewhere"})
    with crm.db.connect() as conn:
        tenant_id = tenant.runtime(conn).tenant_id
        other_id = other.runtime(conn).tenant_id
    before_other = facets(crm, other_id)
    with crm.db.begin() as conn:
        writer = BulkWriter(conn)
        # One facet for many contacts (the Top 10%): tenant and facet are constants.
        writer.update(
            ContactFacetRow,
            ("value",),
            ("tenant_id", "contact_id", "facet"),
            [("yes", tenant_id, cid, "top_10") for cid in ids[:25]],
        )
        # Two facets (nothing constant but the tenant), and a single row.
        writer.update(
            ContactFacetRow,
            ("value",),
            ("tenant_id", "contact_id", "facet"),
            [("hot", tenant_id, ids[0], "status"), ("yes", tenant_id, ids[29], "top_10")],
        )
        writer.update(
            ContactRow, ("score", "version"), ("tenant_id", "id"), [(7.5, 3, tenant_id, ids[1])]
        )
    after = facets(crm, tenant_id)
    assert [after[(cid, "top_10")] for cid in ids] == ["yes"] * 25 + ["no"] * 4 + ["yes"]
    assert after[(ids[0], "status")] == "hot"
    assert {after[(cid, "status")] for cid in ids[1:]} == {"neutral"}
    assert facets(crm, other_id) == before_other
    assert tenant.get_contact(ids[1]).score == 7.5
