"""``crmkit action``: upcoming actions (plan steps, texts, emails, appointments,
reminders) that ``crmkit tick`` carries out when due."""

from __future__ import annotations

import click

from crmkit.cli.context import JSON_OPTION, current_tenant, parse_time
from crmkit.cli.output import console, print_json
from crmkit.cli.profile import print_actions


@click.group("action")
def action_group() -> None:
    """Upcoming actions: plan steps, texts, emails, appointments, reminders."""


@action_group.command("schedule")
@click.argument("contact_id", type=int)
@click.option(
    "--kind",
    type=click.Choice(["step", "text", "email", "appointment", "reminder"]),
    required=True,
)
@click.option("--title", required=True)
@click.option("--due", required=True, help="ISO time, e.g. 2026-05-01T09:30:00+00:00.")
@click.option("--template", help="PACK:NAME of a message template.")
@click.option("--body", help="The message, instead of a template.")
@click.option("--subject", help="An email's subject.")
@JSON_OPTION
def action_schedule(
    contact_id: int,
    kind: str,
    title: str,
    due: str,
    template: str | None,
    body: str | None,
    subject: str | None,
    as_json: bool,
) -> None:
    """Schedule an action; `crmkit tick` carries it out when due."""
    due_at = parse_time(due, "--due")
    assert due_at is not None
    action = current_tenant().schedule_action(
        contact_id,
        kind,
        title,
        due_at,
        template=template,
        body=body,
        subject=subject,
        actor="cli",
    )
    if as_json:
        print_json(action)
    else:
        console.print(f"action {action.id} scheduled for {action.due_at.isoformat()}")


@action_group.command("list")
@click.option("--contact", "contact_id", type=int)
@click.option("--all", "include_closed", is_flag=True, help="Done, failed, cancelled too.")
@JSON_OPTION
def action_list(contact_id: int | None, include_closed: bool, as_json: bool) -> None:
    """Upcoming actions by due time."""
    found = current_tenant().actions(contact_id, include_closed=include_closed)
    if as_json:
        print_json(found)
    else:
        print_actions(found, "Actions")


@action_group.command("cancel")
@click.argument("action_id", type=int)
@JSON_OPTION
def action_cancel(action_id: int, as_json: bool) -> None:
    """Cancel a pending action."""
    action = current_tenant().cancel_action(action_id, actor="cli")
    if as_json:
        print_json(action)
    else:
        console.print(f"action {action_id} cancelled")
