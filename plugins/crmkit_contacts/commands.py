"""Command-line commands of the contacts pack: groups, segments, lead conversion, noun."""

from __future__ import annotations

import click
from rich.table import Table

from crmkit.plugin_api import JSON_OPTION, console, contacts_table, current_tenant, fail, print_json
from crmkit_contacts.facets import CONVERTED_EVENT
from crmkit_contacts.groups import Groups
from crmkit_contacts.segments import Segments


def _ids(values: tuple[str, ...]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        fail(f"contact ids are numbers, got {' '.join(values)!r}")


@click.group()
def group() -> None:
    """Groups of contacts, chosen by hand or from a filter (contacts pack)."""


@group.command("create")
@click.argument("name")
@click.option("--description", default="")
def group_create(name: str, description: str) -> None:
    """Create a group."""
    Groups(current_tenant()).create(name, description)
    console.print(f"group {name} created", markup=False)


@group.command("delete")
@click.argument("name")
def group_delete(name: str) -> None:
    """Delete a group (its contacts stay)."""
    Groups(current_tenant()).delete(name)
    console.print(f"group {name} deleted", markup=False)


@group.command("list")
@JSON_OPTION
def group_list(as_json: bool) -> None:
    """Groups with their member counts."""
    groups = Groups(current_tenant()).all()
    if as_json:
        print_json(groups)
        return
    table = Table("group", "members", "description")
    for g in groups:
        table.add_row(g["name"], str(g["members"]), g["description"])
    console.print(table)


@group.command("add")
@click.argument("name")
@click.argument("contact_ids", nargs=-1, required=False)
@click.option("--where", help="Add every contact matching this condition instead.")
@JSON_OPTION
def group_add(name: str, contact_ids: tuple[str, ...], where: str | None, as_json: bool) -> None:
    """Add contacts by id, or every contact matching --where (e.g. an industry)."""
    groups = Groups(current_tenant())
    if bool(contact_ids) == bool(where):
        fail("give contact ids or --where, not both and not neither")
    added = groups.add_matching(name, where) if where else groups.add(name, _ids(contact_ids))
    if as_json:
        print_json({"group": name, "added": added})
    else:
        console.print(f"{added} added to group {name}", markup=False)


@group.command("remove")
@click.argument("name")
@click.argument("contact_ids", nargs=-1, required=True)
def group_remove(name: str, contact_ids: tuple[str, ...]) -> None:
    """Remove contacts from a group."""
    removed = Groups(current_tenant()).remove(name, _ids(contact_ids))
    console.print(f"{removed} removed from group {name}", markup=False)


@group.command("members")
@click.argument("name")
@JSON_OPTION
def group_members(name: str, as_json: bool) -> None:
    """The contacts in a group."""
    tenant = current_tenant()
    members = Groups(tenant).members(name)
    if as_json:
        print_json(members)
    else:
        console.print(contacts_table(tenant, members, title=f"group {name}"))


@click.group()
def segment() -> None:
    """Saved filters, evaluated when used (contacts pack)."""


@segment.command("save")
@click.argument("name")
@click.argument("condition")
@click.option("--description", default="")
def segment_save(name: str, condition: str, description: str) -> None:
    """Save or replace a segment, e.g. 'contact.lead_status == new and contact.engagement >= 3'"""
    Segments(current_tenant()).save(name, condition, description)
    console.print(f"segment {name} saved", markup=False)


@segment.command("list")
@JSON_OPTION
def segment_list(as_json: bool) -> None:
    """Saved segments."""
    segments = Segments(current_tenant()).all()
    if as_json:
        print_json(segments)
        return
    for s in segments:
        console.print(f"{s['name']}: {s['condition']}", markup=False)


@segment.command("run")
@click.argument("name")
@JSON_OPTION
def segment_run(name: str, as_json: bool) -> None:
    """The contacts in a segment now."""
    tenant = current_tenant()
    found = Segments(tenant).run(name)
    if as_json:
        print_json(found)
        return
    console.print(contacts_table(tenant, found, title=f"segment {name}"))
    console.print(f"{len(found)} {tenant.noun(plural=len(found) != 1)}")


@segment.command("delete")
@click.argument("name")
def segment_delete(name: str) -> None:
    """Delete a segment."""
    Segments(current_tenant()).delete(name)
    console.print(f"segment {name} deleted", markup=False)


@click.group()
def lead() -> None:
    """Lead conversion (contacts pack)."""


@lead.command("convert")
@click.argument("contact_id", type=int)
@click.option("--actor", default="cli", show_default=True)
@click.option("--id", "event_id", help="Event id (unique per tenant); random if omitted.")
@JSON_OPTION
def lead_convert(contact_id: int, actor: str, event_id: str | None, as_json: bool) -> None:
    """Convert a lead to a customer: records a lead_converted event for the rules."""
    result = current_tenant().record_event(contact_id, CONVERTED_EVENT, {"by": actor}, id=event_id)
    if as_json:
        print_json(result)
        return
    moves = ", ".join(f"{c.name} {c.old} -> {c.new}" for c in result.changes) or "no changes"
    console.print(f"contact {contact_id} converted: {moves}", markup=False)


@click.command()
@click.argument("singular")
@click.argument("plural", required=False)
def noun(singular: str, plural: str | None) -> None:
    """Rename what the tenant calls its contacts (e.g. Patient Patients)."""
    current_tenant().update_settings(
        {"contact_noun": singular, "contact_noun_plural": plural or f"{singular}s"}
    )
    console.print(f"contacts are now called {plural or singular + 's'}", markup=False)
