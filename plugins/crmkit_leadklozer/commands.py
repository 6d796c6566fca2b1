"""Command-line commands of the leadklozer pack."""

from __future__ import annotations

import click

from crmkit.plugin_api import (
    JSON_OPTION,
    TenantScope,
    console,
    contacts_table,
    current_tenant,
    print_json,
)
from crmkit_leadklozer.ranking import recompute_scores


@click.group()
def leadklozer() -> None:
    """Smart Score and Top 10% (leadklozer pack)."""


@leadklozer.command("score")
@click.argument("contact_id", type=int)
@JSON_OPTION
def score(contact_id: int, as_json: bool) -> None:
    """A contact's stored Smart Score and its value recomputed now from the event log."""
    tenant = current_tenant()
    stored = tenant.get_contact(contact_id).score
    now = tenant.crm.clock()
    with tenant.crm.db.connect() as conn:
        scope = TenantScope(tenant.runtime(conn).tenant_id)
        fresh = recompute_scores(conn, scope, now, [contact_id])[contact_id]
    result = {
        "contact": contact_id,
        "stored": stored,
        "recomputed_now": fresh,
        "at": now.isoformat(),
    }
    if as_json:
        print_json(result)
    else:
        console.print(
            f"contact {contact_id}: stored {stored:g}, now {fresh:.4g} "
            "(crmkit tick stores the aged value)",
            markup=False,
        )


@leadklozer.command("top10")
@JSON_OPTION
def top10(as_json: bool) -> None:
    """The contacts in the Top 10% (as of the last tick)."""
    tenant = current_tenant()
    found = tenant.list_contacts("contact.top_10 == yes")
    if as_json:
        print_json(found)
    else:
        console.print(contacts_table(tenant, found, title="Top 10%"))
