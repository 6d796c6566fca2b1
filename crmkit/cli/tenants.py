"""Setting a tenant up: ``init``, ``tenants``, ``facets``, ``colour`` and ``settings``."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.table import Table

from crmkit.cli.context import JSON_OPTION, current_context, default_actor, fail
from crmkit.cli.output import coloured, console, errors, line, print_json
from crmkit.settings import UnknownSettingWarning


@contextmanager
def noting_unknown_settings() -> Iterator[None]:
    """Say on stderr, in one line, that a setting no plugin declares was stored."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownSettingWarning)
        yield
    for warning in caught:
        errors.print(f"note: {warning.message}", markup=False, highlight=False, soft_wrap=True)


def _setting_values(settings: tuple[str, ...]) -> dict[str, Any]:
    """``--setting KEY=VALUE`` options, each value parsed as JSON when it can be."""
    parsed: dict[str, Any] = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(f"--setting {item!r}: use KEY=VALUE")
        try:
            parsed[key] = json.loads(raw)
        except json.JSONDecodeError:
            parsed[key] = raw
    return parsed


@click.command()
@click.option("--packs", default="", help="Comma-separated packs, e.g. 17hats or 17hats@1.0.0.")
@click.option(
    "--setting",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A tenant setting (value parsed as JSON when it can be). Repeatable.",
)
@JSON_OPTION
def init(packs: str, settings: tuple[str, ...], as_json: bool) -> None:
    """Create or upgrade the schema and create or reconfigure the tenant."""
    obj = current_context()
    parsed = _setting_values(settings)
    specs = [p.strip() for p in packs.split(",") if p.strip()]
    obj.crm.migrate()
    with noting_unknown_settings():
        obj.crm.configure_tenant(obj.tenant_name, specs, parsed, actor=default_actor())
    result = {"tenant": obj.tenant_name, "packs": specs, "database": obj.db}
    if as_json:
        print_json(result)
    else:
        console.print(
            line("tenant ", (obj.tenant_name, "bold"), f" uses packs: {', '.join(specs) or 'none'}")
        )


@click.command()
@JSON_OPTION
def facets(as_json: bool) -> None:
    """List the tenant's facets with their values and colours."""
    rows = current_context().tenant().facet_table()
    if as_json:
        print_json(rows)
        return
    table = Table("facet", "values", "default", "policy", "plugin")
    for f in rows:
        values = coloured("", "grey")
        for i, v in enumerate(f["values"]):
            if i:
                values.append(", ")
            values.append_text(coloured(v["name"], v["colour"]))
        policy = f["policy"] + ("" if f["manual_allowed"] else ", rules only")
        table.add_row(f["name"], values, f["default"], policy, f["provider"])
    console.print(table)


@click.command()
@click.argument("facet")
@click.argument("value")
@click.argument("colour")
def colour(facet: str, value: str, colour: str) -> None:
    """Recolour a facet value for the tenant (refused where the colours are fixed)."""
    current_context().tenant().set_colour(facet, value, colour)
    console.print(f"{facet}={value} is now {colour}")


@click.command()
@JSON_OPTION
def tenants(as_json: bool) -> None:
    """List the tenants in the database."""
    names = current_context().crm.tenant_names()
    if as_json:
        print_json(names)
    else:
        for name in names:
            console.print(name)


@click.group("settings")
def settings_group() -> None:
    """Show and change the tenant's settings."""


@settings_group.command("show")
@JSON_OPTION
def settings_show(as_json: bool) -> None:
    """The tenant's settings."""
    values = current_context().tenant().settings()
    if as_json:
        print_json(values)
        return
    for key, value in sorted(values.items()):
        console.print(f"{key} = {json.dumps(value)}", markup=False, highlight=False)


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
def settings_set(key: str, value: str) -> None:
    """Set one setting (VALUE is parsed as JSON when it can be: true, 60, "text")."""
    try:
        parsed: Any = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    with noting_unknown_settings():
        current_context().tenant().update_settings({key: parsed})
    console.print(f"{key} = {json.dumps(parsed)}", markup=False, highlight=False)
