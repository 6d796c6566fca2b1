"""Printing for the CLI: JSON for machines, rich text with facet colours for people."""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.text import Text

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
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, default=str) + "\n")


def coloured(value: str, colour: str) -> Text:
    return Text(value, style=STYLES.get(colour, ""))
