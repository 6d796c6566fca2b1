"""The ``crmkit`` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from crmkit.cli.context import Context, CrmGroup, fail
from crmkit.cli.output import coloured, console, errors, print_json
from crmkit.errors import CRMError
from crmkit.schemas import ContactOut, TransitionOut
from crmkit.storage.db import DEFAULT_URL
from crmkit.tenant import Tenant

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(cls=CrmGroup)
@click.option(
    "--db",
    envvar="CRMKIT_DATABASE_URL",
    default=None,
    show_envvar=True,
    help=f"Database URL or SQLite file. [default: {DEFAULT_URL}]",
)
@click.option(
    "--tenant",
    envvar="CRMKIT_TENANT",
    default="default",
    show_default=True,
    show_envvar=True,
    help="Tenant to work on.",
)
@click.version_option(package_name="crmkit")
@click.pass_context
def cli(ctx: click.Context, db: str | None, tenant: str) -> None:
    """crmkit: a CRM composed from plugins and declarative rule packs."""
    ctx.obj = Context(db or DEFAULT_URL, tenant, db is not None)


def _obj(ctx: click.Context) -> Context:
    obj: Context = ctx.find_object(Context)  # type: ignore[assignment]
    return obj


def _contact_lines(contact: ContactOut, tenant: Tenant) -> Table:
    colours = {
        f["name"]: {v["name"]: v["colour"] for v in f["values"]} for f in tenant.facet_table()
    }
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("id", str(contact.id))
    table.add_row("name", f"{contact.first_name} {contact.last_name}".strip())
    for label, value in (
        ("email", contact.email),
        ("phone", contact.phone),
        ("account", contact.account),
    ):
        table.add_row(label, value or "-")
    for facet, value in contact.facets.items():
        table.add_row(facet, coloured(value, colours.get(facet, {}).get(value, "grey")))
    table.add_row("score", f"{contact.score:g}")
    table.add_row("tags", ", ".join(contact.tags) or "-")
    if contact.fields:
        table.add_row("fields", json.dumps(contact.fields))
    table.add_row("archived", "yes" if contact.archived else "no")
    return table


def _print_transitions(transitions: list[TransitionOut]) -> None:
    if not transitions:
        console.print("no changes")
        return
    # One line per change, never wrapped, so it reads well and greps well.
    for t in transitions:
        event = f" event {t.event_id}" if t.event_id else ""
        console.print(
            f"{t.at.isoformat(timespec='seconds')}  contact {t.contact_id}  {t.name}: "
            f"{t.old or '-'} -> {t.new or '-'}  by {t.cause}{event}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )


# ---------------------------------------------------------------- init, packs, facets
@cli.command()
@click.option("--packs", default="", help="Comma-separated packs, e.g. 17hats or 17hats@1.0.0.")
@click.option(
    "--setting",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A tenant setting (value parsed as JSON when it can be). Repeatable.",
)
@JSON_OPTION
@click.pass_context
def init(ctx: click.Context, packs: str, settings: tuple[str, ...], as_json: bool) -> None:
    """Create or upgrade the schema and create or reconfigure the tenant."""
    obj = _obj(ctx)
    parsed: dict[str, Any] = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(f"--setting {item!r}: use KEY=VALUE")
        try:
            parsed[key] = json.loads(raw)
        except json.JSONDecodeError:
            parsed[key] = raw
    specs = [p.strip() for p in packs.split(",") if p.strip()]
    obj.crm.migrate()
    obj.crm.configure_tenant(obj.tenant_name, specs, parsed)
    result = {"tenant": obj.tenant_name, "packs": specs, "database": obj.db}
    if as_json:
        print_json(result)
    else:
        console.print(f"tenant [bold]{obj.tenant_name}[/] uses packs: {', '.join(specs) or 'none'}")


@cli.command()
@JSON_OPTION
@click.pass_context
def packs(ctx: click.Context, as_json: bool) -> None:
    """List installed packs and the ones the tenant uses."""
    obj = _obj(ctx)
    crm = obj.crm
    used: list[str] = []
    try:
        with crm.db.connect() as conn:
            used = [p.ref for p in crm.runtime(conn, obj.tenant_name).packs]
    except (CRMError, SQLAlchemyError):
        used = []  # no database or tenant yet: still list what is installed
    rows: list[dict[str, Any]] = [
        {
            "name": p.name,
            "version": p.version,
            "provider": crm.packs.providers[p.ref],
            "facets": list(p.facets),
            "rules": len(crm.compiled(p).rules),
            "used_by_tenant": p.ref in used,
            "description": p.description,
        }
        for p in crm.packs.all()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("pack", "version", "plugin", "facets", "rules", "used", title="installed packs")
    for r in rows:
        table.add_row(
            r["name"],
            r["version"],
            r["provider"],
            ", ".join(r["facets"]),
            str(r["rules"]),
            "yes" if r["used_by_tenant"] else "",
        )
    console.print(table)


@cli.command()
@JSON_OPTION
@click.pass_context
def facets(ctx: click.Context, as_json: bool) -> None:
    """List the tenant's facets with their values and colours."""
    rows = _obj(ctx).tenant().facet_table()
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


@cli.command()
@click.argument("facet")
@click.argument("value")
@click.argument("colour")
@click.pass_context
def colour(ctx: click.Context, facet: str, value: str, colour: str) -> None:
    """Recolour a facet value for the tenant (refused where the colours are fixed)."""
    _obj(ctx).tenant().set_colour(facet, value, colour)
    console.print(f"{facet}={value} is now {colour}")


@cli.command()
@JSON_OPTION
@click.pass_context
def tenants(ctx: click.Context, as_json: bool) -> None:
    """List the tenants in the database."""
    names = _obj(ctx).crm.tenant_names()
    if as_json:
        print_json(names)
    else:
        for name in names:
            console.print(name)


# ---------------------------------------------------------------- contacts
@cli.group()
def contact() -> None:
    """Add, show, list and change contacts."""


@contact.command("add")
@click.option("--first-name", required=True)
@click.option("--last-name", default="")
@click.option("--email")
@click.option("--phone")
@click.option("--account", help="Account (company) name; created if new.")
@click.option("--facet", "facet_values", multiple=True, metavar="NAME=VALUE", help="Repeatable.")
@click.option("--tag", "tags", multiple=True, help="Repeatable.")
@JSON_OPTION
@click.pass_context
def contact_add(
    ctx: click.Context,
    first_name: str,
    last_name: str,
    email: str | None,
    phone: str | None,
    account: str | None,
    facet_values: tuple[str, ...],
    tags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add a contact by hand."""
    values: dict[str, str] = {}
    for item in facet_values:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            fail(f"--facet {item!r}: use NAME=VALUE")
        values[name] = value
    tenant = _obj(ctx).tenant()
    created = tenant.add_contact(
        {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "phone": phone,
            "account": account,
            "facets": values,
            "tags": list(tags),
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
@click.pass_context
def contact_show(ctx: click.Context, contact_id: int, as_json: bool) -> None:
    """Show one contact."""
    tenant = _obj(ctx).tenant()
    found = tenant.get_contact(contact_id)
    if as_json:
        print_json(found)
    else:
        console.print(_contact_lines(found, tenant))


@contact.command("list")
@click.option("--where", help='A condition, e.g. "contact.contact_type == hot_lead".')
@click.option("--limit", type=click.IntRange(min=1))
@JSON_OPTION
@click.pass_context
def contact_list(ctx: click.Context, where: str | None, limit: int | None, as_json: bool) -> None:
    """List contacts, optionally filtered."""
    tenant = _obj(ctx).tenant()
    found = tenant.list_contacts(where, limit=limit)
    if as_json:
        print_json(found)
        return
    colours = {
        f["name"]: {v["name"]: v["colour"] for v in f["values"]} for f in tenant.facet_table()
    }
    table = Table("id", "name", "email", "account", *colours, "score", "tags")
    for c in found:
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
    console.print(table)
    console.print(f"{len(found)} contact(s)")


@contact.command("set")
@click.argument("contact_id", type=int)
@click.argument("facet")
@click.argument("value")
@click.option("--actor", default="cli", show_default=True, help="Who makes the change.")
@JSON_OPTION
@click.pass_context
def contact_set(
    ctx: click.Context, contact_id: int, facet: str, value: str, actor: str, as_json: bool
) -> None:
    """Change a facet by hand; a refusal exits with status 1."""
    transition = _obj(ctx).tenant().set_facet(contact_id, facet, value, actor=actor)
    if as_json:
        print_json(transition)
    elif transition is None:
        console.print(f"contact {contact_id} already has {facet}={value}")
    else:
        console.print(f"contact {contact_id}: {facet} {transition.old} -> {transition.new}")


# ---------------------------------------------------------------- events
@cli.group()
def event() -> None:
    """Record events."""


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--at {value!r} is not an ISO time (e.g. 2026-05-01T09:30:00+00:00)")


@event.command("record")
@click.option("--contact", "contact_id", type=int, required=True)
@click.option("--kind", required=True)
@click.option("--data", default="{}", help="Event data as a JSON object.")
@click.option("--id", "event_id", help="Event id (unique per tenant); random if omitted.")
@click.option("--at", help="When it happened, ISO time; now if omitted.")
@JSON_OPTION
@click.pass_context
def event_record(
    ctx: click.Context,
    contact_id: int,
    kind: str,
    data: str,
    event_id: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Record one event and print the changes the rules made."""
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        fail(f"--data is not JSON: {exc}")
    if not isinstance(payload, dict):
        fail("--data must be a JSON object")
    result = (
        _obj(ctx).tenant().record_event(contact_id, kind, payload, id=event_id, at=_parse_at(at))
    )
    if as_json:
        print_json(result)
        return
    console.print(f"event {result.id} recorded for contact {result.contact_id}")
    _print_transitions(result.changes)


def _read_jsonl(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                yield ValueError(f"line {number}: not JSON ({exc.msg})")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-size", type=click.IntRange(min=1), default=5000, show_default=True)
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
@JSON_OPTION
@click.pass_context
def ingest(
    ctx: click.Context, file: Path, batch_size: int, no_progress: bool, as_json: bool
) -> None:
    """Record the events of a JSON Lines file (id, contact, kind, data, at per line)."""
    tenant = _obj(ctx).tenant()
    with Progress(
        TextColumn("ingesting"),
        BarColumn(),
        TextColumn("{task.completed} events"),
        TimeElapsedColumn(),
        console=errors,
        disable=no_progress or as_json,
    ) as progress:
        task = progress.add_task("ingest", total=None)
        summary = tenant.ingest(
            _read_jsonl(file),
            batch_size=batch_size,
            progress=lambda n: progress.advance(task, n),
        )
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"{summary.total} events: {summary.applied} applied, {summary.skipped} skipped "
            f"(already recorded), {summary.failed} failed, {summary.changes} changes"
        )
        for message in summary.errors:
            errors.print(f"  {message}", markup=False, highlight=False)
    if summary.failed:
        sys.exit(1)


@cli.command()
@click.argument("contact_id", type=int)
@click.argument("facet", required=False)
@JSON_OPTION
@click.pass_context
def explain(ctx: click.Context, contact_id: int, facet: str | None, as_json: bool) -> None:
    """Why a contact has its values: each change with its cause, event and time."""
    transitions = _obj(ctx).tenant().explain(contact_id, facet)
    if as_json:
        print_json(transitions)
        return
    if not transitions:
        console.print(
            f"contact {contact_id} has no recorded changes"
            + (f" of {facet}" if facet else "")
            + " (values are defaults)"
        )
        return
    _print_transitions(transitions)


@cli.command()
@JSON_OPTION
@click.pass_context
def demo(ctx: click.Context, as_json: bool) -> None:
    """Build a demo tenant from sample data, run sample events, and show the result."""
    from crmkit.cli.demo import run_demo

    obj = _obj(ctx)
    run_demo(obj.db if obj.db_given else None, as_json)


def main() -> None:
    cli(prog_name="crmkit")
