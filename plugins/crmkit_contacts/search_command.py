"""``crmkit search``: contacts matching a condition, and saved searches (segments)."""

from __future__ import annotations

import click

from crmkit.plugin_api import JSON_OPTION, console, contacts_table, current_tenant, fail, print_json
from crmkit_contacts.segments import SavedSearches


@click.command()
@click.argument("expression", required=False)
@click.option("--save", "save_as", metavar="NAME", help="Also save the search under NAME.")
@click.option("--saved", "saved", metavar="NAME", help="Run the saved search NAME.")
@click.option("--list", "list_saved", is_flag=True, help="List the saved searches.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N contacts (a page).")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N.")
@JSON_OPTION
def search(
    expression: str | None,
    save_as: str | None,
    saved: str | None,
    list_saved: bool,
    limit: int | None,
    offset: int,
    as_json: bool,
) -> None:
    """Search contacts with a condition (run as SQL), or run or list saved searches.

    Example: crmkit search 'contact.status in [hot, warm] and engaged(event.data.kind ==
    call) within 30 days'
    """
    tenant = current_tenant()
    searches = SavedSearches(tenant)
    if list_saved:
        found_searches = searches.all()
        if as_json:
            print_json(found_searches)
        else:
            for s in found_searches:
                console.print(f"{s['name']}: {s['condition']}", markup=False, highlight=False)
        return
    if bool(expression) == bool(saved):
        fail("give a search expression or --saved NAME (or --list)")
    if save_as and expression:
        searches.save(save_as, expression)
    found = (
        searches.run(saved, limit=limit, offset=offset)
        if saved
        else tenant.list_contacts(expression, limit=limit, offset=offset)
    )
    if as_json:
        print_json(found)
        return
    console.print(contacts_table(tenant, found))
    console.print(f"{len(found)} {tenant.noun(plural=len(found) != 1)}")
