"""``crmkit packs``: installed packs, the tenant's locked versions, upgrades and history."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from crmkit.cli.context import JSON_OPTION, current_context, default_actor
from crmkit.cli.output import console, errors, line, print_json
from crmkit.errors import CRMError


@click.group(invoke_without_command=True)
@JSON_OPTION
@click.pass_context
def packs(ctx: click.Context, as_json: bool) -> None:
    """List installed packs and the versions the tenant uses."""
    if ctx.invoked_subcommand is not None:
        return
    obj = current_context()
    crm = obj.crm
    used: list[str] = []
    try:
        with crm.db.connect() as conn:
            used = [p.ref for p in crm.runtime(conn, obj.tenant_name).packs]
    except (CRMError, SQLAlchemyError):
        used = []  # no database or tenant yet: still list what is installed
    rows: list[dict[str, Any]] = []
    for p in crm.packs.all():
        try:
            compiled = crm.compiled(p)
        except CRMError as exc:
            # A pack whose rules do not compile is listed as broken, not a crash.
            rows.append(_broken_row(p.name, p.version, crm.packs.providers[p.ref], str(exc)))
            continue
        rows.append(
            {
                "name": p.name,
                "version": p.version,
                "provider": crm.packs.providers[p.ref],
                "facets": list(p.facets),
                "rules": len(compiled.rules) + len(compiled.tick_rules),
                "scenarios": len(p.scenarios),
                "used_by_tenant": p.ref in used,
                "description": p.description,
                "broken": None,
            }
        )
    rows.extend(_broken_row(b.name, None, b.provider, str(b)) for b in crm.packs.broken)
    if as_json:
        print_json(rows)
        return
    table = Table("pack", "version", "plugin", "facets", "rules", "used", title="installed packs")
    for r in rows:
        table.add_row(
            r["name"] or "?",
            r["version"] or "",
            r["provider"],
            ", ".join(r["facets"]),
            "broken" if r["broken"] else str(r["rules"]),
            "yes" if r["used_by_tenant"] else "",
        )
    console.print(table)
    for r in rows:
        if r["broken"]:
            errors.print(f"broken: {r['broken']}", markup=False, highlight=False, soft_wrap=True)


def _broken_row(name: str | None, version: str | None, provider: str, error: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "provider": provider,
        "facets": [],
        "rules": 0,
        "scenarios": 0,
        "used_by_tenant": False,
        "description": "",
        "broken": error,
    }


@packs.command("upgrade")
@click.argument("pack")
@click.option("--to", "version", help="The version to move to (default: the newest).")
@click.option("--actor", help="Who upgrades, for the record (default: your login).")
@JSON_OPTION
def upgrade(pack: str, version: str | None, actor: str | None, as_json: bool) -> None:
    """Move one of the tenant's packs to another installed version (recorded)."""
    obj = current_context()
    old, new = obj.crm.upgrade_pack(obj.tenant_name, pack, version, actor=actor or default_actor())
    result = {"tenant": obj.tenant_name, "pack": pack, "from": old, "to": new}
    if as_json:
        print_json(result)
    elif old == new:
        console.print(f"{pack} is already at {new}; nothing changed")
    else:
        console.print(line(f"{pack}: {old} -> {new} for tenant ", (obj.tenant_name, "bold")))


@packs.command("history")
@JSON_OPTION
def history(as_json: bool) -> None:
    """Every change of the tenant's pack versions: when, who, from, to."""
    obj = current_context()
    rows = obj.crm.pack_history(obj.tenant_name)
    if as_json:
        print_json(rows)
        return
    table = Table("at", "pack", "from", "to", "by", title=f"packs of {obj.tenant_name}")
    for r in rows:
        table.add_row(
            r["at"].isoformat(timespec="seconds"),
            r["pack"],
            r["from_version"] or "(added)",
            r["to_version"] or "(removed)",
            r["actor"],
        )
    console.print(table)
