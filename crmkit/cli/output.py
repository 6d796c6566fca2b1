"""Printing for the CLI: JSON for machines, rich text with facet colours for people."""

from __future__ import annotations

import json
import math
import sys
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from crmkit.schemas import ContactOut
    from crmkit.tenant import Tenant

# Facet colour names mapped to terminal styles.
STYLES = {
    "grey": "grey62",
    "blue": "bold blue",
    "green": "bold green",
    "orange": "bold dark_orange",
    "red": "bold red",
    "yellow": "bold yellow",
    "purple": "bold purple",
    "teal": "bold cyan",
    "pink": "bold hot_pink",
    "brown": "bold dark_goldenrod",
}

console = Console()
errors = Console(stderr=True)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no Infinity or NaN (JavaScript's JSON.stringify: null too)
    return value


def print_json(value: Any) -> None:
    text = json.dumps(to_jsonable(value), indent=2, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")


def coloured(value: str, colour: str) -> Text:
    return Text(value, style=STYLES.get(colour, ""))


def facet_colours(tenant: Tenant) -> dict[str, dict[str, str]]:
    """Facet name to value to colour, as the tenant shows them."""
    return {f["name"]: {v["name"]: v["colour"] for v in f["values"]} for f in tenant.facet_table()}


def contacts_table(tenant: Tenant, contacts: list[ContactOut], title: str | None = None) -> Table:
    """Contacts as a table with every facet in its colour."""
    colours = facet_colours(tenant)
    table = Table("id", "name", "email", "account", *colours, "score", "tags", title=title)
    for c in contacts:
        table.add_row(
            str(c.id),
            f"{c.first_name} {c.last_name}".strip(),
            c.email or "-",
            c.account or "-",
            *(
                coloured(c.facets.get(f, "-"), colours[f].get(c.facets.get(f, ""), "grey"))
                for f in colours
            ),
            f"{c.score:g}",
            ", ".join(c.tags),
        )
    return table
