"""``crmkit field``: the tenant's profile fields and custom fields."""

from __future__ import annotations

import click
from rich.table import Table

from crmkit.cli.context import JSON_OPTION, current_tenant
from crmkit.cli.output import console, print_json
from crmkit.field_types import FIELD_TYPES


@click.group("field")
def field_group() -> None:
    """The tenant's profile fields and custom fields."""


@field_group.command("list")
@JSON_OPTION
def field_list(as_json: bool) -> None:
    """Profile fields: the packs' and the tenant's custom fields."""
    found = current_tenant().fields()
    if as_json:
        print_json(found)
        return
    table = Table("name", "label", "type", "section", "from")
    for f in found:
        kind = f"choice ({', '.join(f.choices)})" if f.choices else f.type
        table.add_row(f.name, f.label, kind, f.section, f.source)
    console.print(table)


@field_group.command("add")
@click.argument("label")
@click.option("--type", "kind", type=click.Choice(FIELD_TYPES), default="text")
@click.option("--choice", "choices", multiple=True, help="A value of a choice field.")
@JSON_OPTION
def field_add(label: str, kind: str, choices: tuple[str, ...], as_json: bool) -> None:
    """Add a custom field; its name is the label in lower case with underscores."""
    added = current_tenant().add_custom_field(label, kind, choices)
    if as_json:
        print_json(added)
    else:
        console.print(f"custom field {added.name} ({added.type}) added", highlight=False)


@field_group.command("apply")
@click.argument("name")
@JSON_OPTION
def field_apply(name: str, as_json: bool) -> None:
    """Put a field (empty) on every contact that does not have it yet."""
    count = current_tenant().apply_custom_field(name)
    if as_json:
        print_json({"field": name, "contacts": count})
    else:
        console.print(f"field {name} added to {count} contacts", highlight=False)
