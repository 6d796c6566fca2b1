"""Printing for the CLI: JSON for machines, rich text with facet colours for people."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text, TextType

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

# What a terminal would act on rather than show: C0 controls but newline (ESC starts
# CSI and OSC 8 hyperlink sequences, BEL, backspace and carriage return rewrite what is
# on screen), DEL, C1 controls (0x9b is a one-byte CSI), and the bidirectional marks and
# overrides that reorder a line.
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_LINE = re.compile(f"\n|{_UNSAFE.pattern}")


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\t":
        return " "
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` as a terminal shows it literally: each control character as ``\\xNN`` (a
    tab as a space); with ``one_line``, newlines too, so data cannot forge a line."""
    return (_UNSAFE_LINE if one_line else _UNSAFE).sub(_shown, text)


class SafeConsole(Console):
    """A console that prints data as it is: no markup (``[bold]``, ``[link=...]``) or
    emoji codes are read in strings, and control characters come out escaped.

    Styles come from :class:`Text` objects and ``style=``, never from the text printed,
    so every string and table cell may hold data. Text objects built from data are
    escaped too, at the last step before the terminal.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(markup=False, emoji=False, **options)

    def render_str(self, text: str, **options: Any) -> Text:
        options["markup"] = False
        options["emoji"] = False
        return super().render_str(printable(text), **options)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and _UNSAFE.search(segment.text):
                yield Segment(printable(segment.text), segment.style)
            else:
                yield segment


console = SafeConsole()
errors = SafeConsole(stderr=True)


def line(*parts: str | tuple[str, str] | Text) -> Text:
    """One line of plain text and ``(text, style)`` pieces, none read as markup."""
    pieces: list[TextType | tuple[str, str]] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(printable(part))
        elif isinstance(part, tuple):
            pieces.append((printable(part[0]), part[1]))
        else:
            pieces.append(part)
    return Text.assemble(*pieces)


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
    return Text(printable(value), style=STYLES.get(colour, ""))


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
