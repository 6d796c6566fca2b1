"""Command-line commands of the leadklozer pack."""

from __future__ import annotations

import click

from crmkit.plugin_api import (
    JSON_OPTION,
    TenantScope,
    console,
    contacts_table,
    current_tenant,
    fail,
    print_json,
)
from crmkit_leadklozer.ranking import recompute_scores
from crmkit_leadklozer.score_state import held, last_event_seq, read_clock
from crmkit_leadklozer.scoring import scoring
from crmkit_leadklozer.verification import verify


@click.group()
def leadklozer() -> None:
    """Smart Score and Top 10% (leadklozer pack)."""


@leadklozer.command("score")
@click.argument("contact_id", type=int)
@JSON_OPTION
def score(contact_id: int, as_json: bool) -> None:
    """A contact's stored Smart Score, its parts, and its value recomputed now."""
    tenant = current_tenant()
    contact = tenant.get_contact(contact_id)
    now = tenant.crm.clock()
    table = scoring()
    with tenant.crm.db.connect() as conn:
        scope = TenantScope(tenant.runtime(conn).tenant_id)
        fresh = recompute_scores(conn, scope, now, [contact_id])[contact_id]
        clock = read_clock(conn, scope)
        share = held(conn, scope, table, clock, last_event_seq(conn, scope), contact_id)
    status = table.status_points(contact.facets.get("status"))
    engagement = share.get(contact_id, 0.0)
    other = contact.score - engagement - status
    result = {
        "contact": contact_id,
        "stored": contact.score,
        "engagement_points": engagement,
        "status_points": status,
        "other_points": other,
        "recomputed_now": fresh + other,
        "at": now.isoformat(),
        "last_tick": clock.at.isoformat() if clock else None,
    }
    if as_json:
        print_json(result)
    else:
        console.print(
            f"contact {contact_id}: stored {contact.score:g} = engagements {engagement:.4g}"
            f" + status {status:g} + other packs and edits {other:.4g}; now "
            f"{fresh + other:.4g} (crmkit tick stores the aged value)",
            markup=False,
        )


@leadklozer.command("verify-scores")
@JSON_OPTION
def verify_scores(as_json: bool) -> None:
    """Recompute every Smart Score's engagement points from the event log and report
    the contacts whose stored state differs (exit status 1 if any)."""
    tenant = current_tenant()
    with tenant.crm.db.connect() as conn:
        scope = TenantScope(tenant.runtime(conn).tenant_id)
        clock, wrong = verify(conn, scope, scoring())
    if as_json:
        print_json(
            {
                "at": clock.at.isoformat() if clock else None,
                "differences": [d._asdict() for d in wrong],
            }
        )
    elif clock is None:
        console.print("no tick has scored this tenant yet: nothing to verify", markup=False)
    else:
        for d in wrong:
            console.print(
                f"contact {d.contact}: from the log {d.from_log:.6g}, in the state "
                f"{d.in_state:.6g}, held by the score {d.held:.6g}",
                markup=False,
            )
        console.print(
            f"{len(wrong)} difference(s) at the last tick, {clock.at.isoformat()}",
            markup=False,
        )
    if wrong:
        fail(f"{len(wrong)} Smart Score(s) differ from the event log")


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
