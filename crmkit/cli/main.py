"""The ``crmkit`` command line."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crmkit.cli.context import (
    JSON_OPTION,
    Context,
    CrmGroup,
    current_context,
    default_actor,
    fail,
    pairs,
)
from crmkit.cli.output import (
    coloured,
    console,
    contacts_table,
    errors,
    facet_colours,
    line,
    print_json,
)
from crmkit.event_input import read_json, read_json_lines
from crmkit.filters import build_filter
from crmkit.schemas import ContactOut, TransitionOut
from crmkit.settings import UnknownSettingWarning
from crmkit.storage.db import DEFAULT_URL
from crmkit.tenant import Tenant


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
    return current_context()


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
    with noting_unknown_settings():
        obj.crm.configure_tenant(obj.tenant_name, specs, parsed, actor=default_actor())
    result = {"tenant": obj.tenant_name, "packs": specs, "database": obj.db}
    if as_json:
        print_json(result)
    else:
        console.print(
            line("tenant ", (obj.tenant_name, "bold"), f" uses packs: {', '.join(specs) or 'none'}")
        )


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
@click.pass_context
def contact_add(
    ctx: click.Context,
    /,
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
    tenant = _obj(ctx).tenant()
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
@click.pass_context
def contact_show(ctx: click.Context, contact_id: int, as_json: bool) -> None:
    """Show a contact's whole profile: header, info, custom fields, tags, upcoming
    actions, messages and recent history."""
    from crmkit.cli.profile import print_profile

    tenant = _obj(ctx).tenant()
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
@click.pass_context
def contact_list(
    ctx: click.Context,
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
    tenant = _obj(ctx).tenant()
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


# ---------------------------------------------------------------- settings
@cli.group("settings")
def settings_group() -> None:
    """Show and change the tenant's settings."""


@settings_group.command("show")
@JSON_OPTION
@click.pass_context
def settings_show(ctx: click.Context, as_json: bool) -> None:
    """The tenant's settings."""
    values = _obj(ctx).tenant().settings()
    if as_json:
        print_json(values)
        return
    for key, value in sorted(values.items()):
        console.print(f"{key} = {json.dumps(value)}", markup=False, highlight=False)


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@click.pass_context
def settings_set(ctx: click.Context, key: str, value: str) -> None:
    """Set one setting (VALUE is parsed as JSON when it can be: true, 60, "text")."""
    try:
        parsed: Any = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    with noting_unknown_settings():
        _obj(ctx).tenant().update_settings({key: parsed})
    console.print(f"{key} = {json.dumps(parsed)}", markup=False, highlight=False)


@contextmanager
def noting_unknown_settings() -> Iterator[None]:
    """Say on stderr, in one line, that a setting no plugin declares was stored."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownSettingWarning)
        yield
    for warning in caught:
        errors.print(f"note: {warning.message}", markup=False, highlight=False, soft_wrap=True)


# ---------------------------------------------------------------- accounts and projects
@cli.group()
def account() -> None:
    """Accounts (companies) and their contacts."""


@account.command("add")
@click.argument("name")
@JSON_OPTION
@click.pass_context
def account_add(ctx: click.Context, name: str, as_json: bool) -> None:
    """Create an account (or find the existing one of that name)."""
    account_id = _obj(ctx).tenant().add_account(name)
    if as_json:
        print_json({"id": account_id, "name": name})
    else:
        console.print(f"account {account_id}: {name}", markup=False)


@account.command("list")
@JSON_OPTION
@click.pass_context
def account_list(ctx: click.Context, as_json: bool) -> None:
    """Accounts by name with their contacts."""
    tenant = _obj(ctx).tenant()
    accounts = tenant.list_accounts()
    if as_json:
        print_json(accounts)
        return
    table = Table("id", "account", tenant.noun(plural=True))
    for a in accounts:
        table.add_row(str(a["id"]), a["name"], ", ".join(map(str, a["contacts"])) or "-")
    console.print(table)


@cli.group()
def project() -> None:
    """Projects: a primary contact plus related contacts with a role."""


@project.command("add")
@click.argument("name")
@click.option("--primary", "primary", type=int, required=True, help="The primary contact id.")
@click.option("--related", "related", multiple=True, metavar="ID=ROLE", help="Repeatable.")
@JSON_OPTION
@click.pass_context
def project_add(
    ctx: click.Context, name: str, primary: int, related: tuple[str, ...], as_json: bool
) -> None:
    """Create a project."""
    given = pairs(related, "--related")
    try:
        roles = {int(cid): role for cid, role in given.items()}
    except ValueError:
        fail("--related takes CONTACT_ID=ROLE, e.g. --related 7=planner")
    tenant = _obj(ctx).tenant()
    created = tenant.get_project(tenant.add_project(name, primary, roles))
    if as_json:
        print_json(created)
    else:
        console.print(f"project {created['id']}: {name}", markup=False)


@project.command("relate")
@click.argument("project_id", type=int)
@click.argument("contact_id", type=int)
@click.argument("role")
@click.pass_context
def project_relate(ctx: click.Context, project_id: int, contact_id: int, role: str) -> None:
    """Relate a contact to a project with a role label."""
    _obj(ctx).tenant().add_related(project_id, contact_id, role)
    console.print(f"contact {contact_id} is {role} on project {project_id}", markup=False)


@project.command("show")
@click.argument("project_id", type=int)
@JSON_OPTION
@click.pass_context
def project_show(ctx: click.Context, project_id: int, as_json: bool) -> None:
    """One project with its contacts."""
    found = _obj(ctx).tenant().get_project(project_id)
    if as_json:
        print_json(found)
        return
    console.print(f"project {found['id']}: {found['name']}", markup=False)
    console.print(f"  primary contact {found['primary_contact']}", markup=False)
    for r in found["related"]:
        console.print(f"  related contact {r['contact']} ({r['role']})", markup=False)


@project.command("list")
@click.option("--contact", "contact_id", type=int, help="Only projects this contact is on.")
@JSON_OPTION
@click.pass_context
def project_list(ctx: click.Context, contact_id: int | None, as_json: bool) -> None:
    """Projects, optionally those of one contact."""
    found = _obj(ctx).tenant().list_projects(contact_id)
    if as_json:
        print_json(found)
        return
    table = Table("id", "project", "primary", "related")
    for p in found:
        related = ", ".join(f"{r['contact']} ({r['role']})" for r in p["related"])
        table.add_row(str(p["id"]), p["name"], str(p["primary_contact"]), related or "-")
    console.print(table)


# ---------------------------------------------------------------- events
@cli.group()
def event() -> None:
    """Record events."""


def _parse_at(value: str | None, option: str = "--at") -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option} {value!r} is not an ISO time (e.g. 2026-05-01T09:30:00+00:00)")


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
        payload = read_json(data)
    except ValueError as exc:
        fail(f"--data is {exc}")
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
    with path.open("rb") as handle:
        yield from read_json_lines(handle)


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
@click.argument("expression", required=False)
@click.option("--save", "save_as", metavar="NAME", help="Also save the search under NAME.")
@click.option("--saved", "saved", metavar="NAME", help="Run the saved search NAME.")
@click.option("--list", "list_saved", is_flag=True, help="List the saved searches.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N contacts (a page).")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N.")
@JSON_OPTION
@click.pass_context
def search(
    ctx: click.Context,
    expression: str | None,
    save_as: str | None,
    saved: str | None,
    list_saved: bool,
    limit: int | None,
    offset: int,
    as_json: bool,
) -> None:
    """Search contacts with a condition (run as SQL), or run or list saved searches.

    Example: crmkit search 'contact.status in [hot, warm] and engaged(event.data.kind ==
    call) within 30 days'
    """
    from crmkit_contacts.segments import SavedSearches

    tenant = _obj(ctx).tenant()
    searches = SavedSearches(tenant)
    if list_saved:
        found_searches = searches.all()
        if as_json:
            print_json(found_searches)
        else:
            for s in found_searches:
                console.print(f"{s['name']}: {s['condition']}", markup=False, highlight=False)
        return
    if bool(expression) == bool(saved):
        fail("give a search expression or --saved NAME (or --list)")
    if save_as and expression:
        searches.save(save_as, expression)
    found = (
        searches.run(saved, limit=limit, offset=offset)
        if saved
        else tenant.list_contacts(expression, limit=limit, offset=offset)
    )
    if as_json:
        print_json(found)
        return
    console.print(contacts_table(tenant, found))
    console.print(f"{len(found)} {tenant.noun(plural=len(found) != 1)}")


@cli.command()
@click.option("--now", "now_text", metavar="ISO-TIME", help="The tick's time (default: now).")
@JSON_OPTION
@click.pass_context
def tick(ctx: click.Context, now_text: str | None, as_json: bool) -> None:
    """Run what depends on time: score decay and expiry, rankings, tick rules."""
    summary = _obj(ctx).tenant().tick(_parse_at(now_text, "--now"))
    if as_json:
        print_json(summary)
        return
    console.print(
        f"tick at {summary.now.isoformat(timespec='seconds')}: {summary.changes} changes",
        markup=False,
    )
    for rule, count in summary.by_rule.items():
        console.print(f"  {rule}: {count}", markup=False)


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


# Profile, tag, field, action and message commands live in their own module.
from crmkit.cli import profile as _profile_commands  # noqa: E402

_profile_commands.register(cli, contact)

# Pack versions and the rule-pack kit (test, check, simulate) live in their own modules.
from crmkit.cli import packs as _pack_commands  # noqa: E402
from crmkit.cli import rules as _rule_commands  # noqa: E402

_pack_commands.register(cli)
_rule_commands.register(cli)

# Import and export live in their own module.
from crmkit.cli import transfer as _transfer_commands  # noqa: E402

_transfer_commands.register(cli)


def main() -> None:
    from crmkit.rules.engine import shutdown

    try:
        cli(prog_name="crmkit")
    finally:
        shutdown()
