"""Command-line pages of the 17hats pack."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from crmkit.plugin_api import (
    JSON_OPTION,
    ContactOut,
    Tenant,
    coloured,
    console,
    current_tenant,
    facet_colours,
    print_json,
    printable,
)
from crmkit_17hats.facets import CONTACT_TYPE
from crmkit_17hats.pages import contacts_page, leads_page


def _line(tenant_colours: dict[str, str], contact: ContactOut) -> Text:
    kind = contact.facets.get("contact_type", "other")
    return Text.assemble(
        printable(f"  {contact.first_name} {contact.last_name}".rstrip()).ljust(32),
        coloured(CONTACT_TYPE.value(kind).label, tenant_colours.get(kind, "grey")),
        f"  (#{contact.id})",
    )


def _colours(tenant: Tenant) -> dict[str, str]:
    return facet_colours(tenant).get("contact_type", {})


@click.group("17hats")
def hats() -> None:
    """The 17hats Contacts and Leads pages."""


@hats.command("contacts")
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([v.name for v in CONTACT_TYPE.values]),
    help="Only this contact type (repeatable).",
)
@JSON_OPTION
def hats_contacts(types: tuple[str, ...], as_json: bool) -> None:
    """Contacts by first name under letter headers, optionally of some types."""
    tenant = current_tenant()
    groups = contacts_page(tenant, list(types) or None)
    if as_json:
        print_json(groups)
        return
    colours = _colours(tenant)
    for group in groups:
        console.print(Text(printable(group["letter"]), style="bold underline"))
        for contact in group["contacts"]:
            console.print(_line(colours, contact))


@hats.command("leads")
@click.option("--all", "show_all", is_flag=True, help="All hot leads and cold prospects, A to Z.")
@JSON_OPTION
def hats_leads(show_all: bool, as_json: bool) -> None:
    """The Leads page: new and active leads, or --all."""
    tenant = current_tenant()
    page: dict[str, Any] = leads_page(tenant, "all" if show_all else "overview")
    if as_json:
        print_json(page)
        return
    colours = _colours(tenant)
    for section, contacts in page.items():
        console.print(Text(f"{section} ({len(contacts)})", style="bold"))
        for contact in contacts:
            console.print(_line(colours, contact))
