"""``crmkit contact``: add, show, list, change, tag, copy, archive and restore contacts;
and ``crmkit tags``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from crmkit.cli.context import JSON_OPTION, current_tenant, fail, pairs
from crmkit.cli.output import coloured, console, contacts_table, facet_colours, print_json
from crmkit.cli.profile import print_profile
from crmkit.filters import build_filter
from crmkit.schemas import ContactOut, TransitionOut
from crmkit.tenant import Tenant


def _contact_lines(contact: ContactOut, tenant: Tenant) -> Table:
    colours = facet_colours(tenant)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("id", str(contact.id))
    table.add_row("name", f"{contact.first_name} {contact.last_name}".strip())
    for label in (
        "email",
        "phone",
        "account",
        "city",
        "state",
        "country",
        "industry",
        "lead_source",
    ):
        value = getattr(contact, label)
        if value or label in ("email", "phone", "account"):
            table.add_row(label, value or "-")
    for facet, value in contact.facets.items():
        table.add_row(facet, coloured(value, colours.get(facet, {}).get(value, "grey")))
    table.add_row("score", f"{contact.score:g}")
    table.add_row("tags", ", ".join(contact.tags) or "-")
    if contact.fields:
        table.add_row("fields", json.dumps(contact.fields))
    table.add_row("archived", "yes" if contact.archived else "no")
    return table


def _print_changes(transitions: list[TransitionOut], contact_id: int) -> None:
    if not transitions:
        console.print(f"contact {contact_id}: nothing changed")
    for t in transitions:
        console.print(
            f"contact {contact_id}: {t.name} {t.old or '-'} -> {t.new or '-'}",
            markup=False,
            highlight=False,
        )


@click.group()
def contact() -> None:
    """Add, show, list and change contacts."""


@contact.command("add")
@click.option("--first-name", required=True)
@click.option("--last-name", default="")
@click.option("--email")
@click.option("--phone")
@click.option("--account", help="Account (company) name; created if new.")
@click.option("--city")
@click.option("--state")
@click.option("--country")
@click.option("--industry")
@click.option("--lead-source")
@click.option("--facet", "facet_values", multiple=True, metavar="NAME=VALUE", help="Repeatable.")
@click.option("--tag", "tags", multiple=True, help="Repeatable.")
@click.option(
    "--field",
    "field_values",
    multiple=True,
    metavar="NAME=VALUE",
    help="A profile or custom field (a new name adds a custom field). Repeatable.",
)
@click.option(
    "--ok-to-sms/--no-ok-to-sms",
    default=None,
    help="Express permission to text; decided by the phone check if omitted.",
)
@JSON_OPTION
def contact_add(
    first_name: str,
    last_name: str,
    facet_values: tuple[str, ...],
    tags: tuple[str, ...],
    field_values: tuple[str, ...],
    ok_to_sms: bool | None,
    as_json: bool,
    **profile: str | None,
) -> None:
    """Add a contact by hand."""
    tenant = current_tenant()
    created = tenant.add_contact(
        {
            "first_name": first_name,
            "last_name": last_name,
            **profile,
            "facets": pairs(facet_values, "--facet"),
            "tags": list(tags),
            "fields": pairs(field_values, "--field"),
            "ok_to_sms": ok_to_sms,
        },
        actor="cli",
    )
    if as_json:
        print_json(created)
    else:
        console.print(_contact_lines(created, tenant))


@contact.command("show")
@click.argument("contact_id", type=int)
@JSON_OPTION
def contact_show(contact_id: int, as_json: bool) -> None:
    """Show a contact's whole profile: header, info, custom fields, tags, upcoming
    actions, messages and recent history."""
    tenant = current_tenant()
    found = tenant.profile(contact_id)
    if as_json:
        print_json(found)
    else:
        print_profile(found, facet_colours(tenant))


@contact.command("list")
@click.option("--where", help='A condition, e.g. "contact.contact_type == hot_lead".')
@click.option("--location", help="City, state or country.")
@click.option("--industry")
@click.option("--lead-source")
@click.option("--facet", "facet_values", multiple=True, metavar="NAME=VALUE", help="Repeatable.")
@click.option("--interacted-since", metavar="TIME", help='ISO date or e.g. "30 days ago".')
@click.option("--not-interacted-since", metavar="TIME", help="No interaction since TIME.")
@click.option("--order", type=click.Choice(["id", "first_name"]), default="id", show_default=True)
@click.option("--limit", type=click.IntRange(min=1))
@click.option("--archived", "archived", flag_value="only", help="Only archived contacts.")
@click.option("--all", "archived", flag_value="all", help="Archived contacts too.")
@JSON_OPTION
def contact_list(
    where: str | None,
    location: str | None,
    industry: str | None,
    lead_source: str | None,
    facet_values: tuple[str, ...],
    interacted_since: str | None,
    not_interacted_since: str | None,
    order: str,
    limit: int | None,
    archived: str | None,
    as_json: bool,
) -> None:
    """List contacts, optionally filtered (all filters must hold; run as SQL).

    Archived contacts are hidden unless --archived or --all is given."""
    tenant = current_tenant()
    with tenant.crm.db.connect() as conn:
        schema = tenant.runtime(conn).search_schema()  # so errors name the option
    condition = build_filter(
        schema=schema,
        where=where,
        location=location,
        industry=industry,
        lead_source=lead_source,
        facets=pairs(facet_values, "--facet"),
        interacted_since=interacted_since,
        not_interacted_since=not_interacted_since,
    )
    which = {None: False, "only": True, "all": None}[archived]
    found = tenant.list_contacts(condition, limit=limit, order=order, archived=which)
    if as_json:
        print_json(found)
        return
    console.print(contacts_table(tenant, found))
    console.print(f"{len(found)} {tenant.noun(plural=len(found) != 1)}")


@contact.command("set")
@click.argument("contact_id", type=int)
@click.argument("facet")
@click.argument("value")
@click.option("--actor", default="cli", show_default=True, help="Who makes the change.")
@JSON_OPTION
def contact_set(contact_id: int, facet: str, value: str, actor: str, as_json: bool) -> None:
    """Change a facet by hand; a refusal exits with status 1."""
    transition = current_tenant().set_facet(contact_id, facet, value, actor=actor)
    if as_json:
        print_json(transition)
    elif transition is None:
        console.print(f"contact {contact_id} already has {facet}={value}")
    else:
        console.print(f"contact {contact_id}: {facet} {transition.old} -> {transition.new}")


@contact.command("edit")
@click.argument("contact_id", type=int)
@click.option("--first-name")
@click.option("--last-name")
@click.option("--email")
@click.option("--phone", help="The cell phone; a new number is checked for OK to SMS.")
@click.option("--account", help="Company; an empty value clears it.")
@click.option("--city")
@click.option("--state")
@click.option("--country")
@click.option("--industry")
@click.option("--lead-source")
@click.option("--ok-to-sms/--no-ok-to-sms", default=None, help="Express permission to text.")
@click.option("--field", "field_values", multiple=True, metavar="NAME=VALUE")
@click.option("--actor", default="cli", show_default=True)
@JSON_OPTION
def contact_edit(
    contact_id: int,
    field_values: tuple[str, ...],
    actor: str,
    as_json: bool,
    **values: Any,
) -> None:
    """Change profile values (only the options given); every change is explained."""
    patch = {k: v for k, v in values.items() if v is not None}
    if field_values:
        patch["fields"] = {
            k: (v or None) for k, v in pairs(field_values, "--field", allow_empty=True).items()
        }
    if not patch:
        fail("nothing to change: give at least one option")
    changes = current_tenant().update_contact(contact_id, patch, actor=actor)
    if as_json:
        print_json(changes)
    else:
        _print_changes(changes, contact_id)


@contact.command("tag")
@click.argument("contact_id", type=int)
@click.option("--add", "adding", multiple=True, help="A new or existing tag. Repeatable.")
@click.option("--remove", "removing", multiple=True, help="Repeatable.")
@click.option("--actor", default="cli", show_default=True)
@JSON_OPTION
def contact_tag(
    contact_id: int,
    adding: tuple[str, ...],
    removing: tuple[str, ...],
    actor: str,
    as_json: bool,
) -> None:
    """Add or remove tags."""
    if not adding and not removing:
        fail("give --add or --remove")
    changes = current_tenant().tag_contact(contact_id, adding, removing, actor=actor)
    if as_json:
        print_json(changes)
    else:
        _print_changes(changes, contact_id)


@contact.command("duplicate")
@click.argument("contact_id", type=int)
@JSON_OPTION
def contact_duplicate(contact_id: int, as_json: bool) -> None:
    """Copy a contact's fields, tags and facets (not notes, events or history)."""
    copy = current_tenant().duplicate_contact(contact_id, actor="cli")
    if as_json:
        print_json(copy)
    else:
        console.print(f"contact {copy.id} is a copy of contact {contact_id}")


@contact.command("delete")
@click.argument("contact_id", type=int)
@JSON_OPTION
def contact_delete(contact_id: int, as_json: bool) -> None:
    """Archive a contact; delete an archived one for good (with all its records)."""
    outcome = current_tenant().delete_contact(contact_id, actor="cli")
    if as_json:
        print_json({"contact_id": contact_id, "outcome": outcome})
    elif outcome == "archived":
        console.print(f"contact {contact_id} archived (delete it again to erase it)")
    else:
        console.print(f"contact {contact_id} erased with its events, notes and messages")


@contact.command("restore")
@click.argument("contact_id", type=int)
@JSON_OPTION
def contact_restore(contact_id: int, as_json: bool) -> None:
    """Bring an archived contact back."""
    changed = current_tenant().restore_contact(contact_id, actor="cli")
    if as_json:
        print_json({"contact_id": contact_id, "restored": changed})
    else:
        console.print(f"contact {contact_id} " + ("restored" if changed else "was not archived"))


@contact.command("check-phone")
@click.argument("contact_id", type=int)
@JSON_OPTION
def contact_check_phone(contact_id: int, as_json: bool) -> None:
    """Look the cell phone up again and set OK to SMS from the answer."""
    found = current_tenant().check_phone(contact_id)
    if as_json:
        print_json(found)
        return
    verdict = "OK to SMS" if found["ok_to_sms"] else found["sms_note"] or "not OK to SMS"
    console.print(
        f"contact {contact_id}: {found['phone'] or 'no cell phone'} "
        f"({found['line_type'] or '-'}): {verdict}",
        highlight=False,
    )


@contact.command("profile")
@click.argument("contact_id", type=int)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="Write the profile as a self-contained HTML page here.",
)
def contact_profile(contact_id: int, html_file: Path) -> None:
    """Write a contact's profile page as HTML."""
    page = current_tenant().profile_html(contact_id)
    try:
        html_file.write_text(page, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {html_file}: {exc.strerror}")
    console.print(f"wrote {html_file}", highlight=False)


@click.command("tags")
@JSON_OPTION
def tags(as_json: bool) -> None:
    """The tenant's tags and how many contacts carry each."""
    found = current_tenant().tags()
    if as_json:
        print_json(found)
        return
    table = Table("tag", "contacts")
    for row in found:
        table.add_row(row["tag"], str(row["contacts"]))
    console.print(table)
