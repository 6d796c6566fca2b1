"""``crmkit message``: texts and emails to and from contacts."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from crmkit.cli.context import JSON_OPTION, current_tenant
from crmkit.cli.output import console, print_json


def _sent(message: Any, as_json: bool) -> None:
    if as_json:
        print_json(message)
    else:
        console.print(
            f"message {message.id} {message.status} to {message.address}", highlight=False
        )


@click.group("message")
def message_group() -> None:
    """Texts and emails to and from contacts."""


@message_group.command("text")
@click.argument("contact_id", type=int)
@click.option("--body")
@click.option("--template", help="PACK:NAME of a template.")
@JSON_OPTION
def message_text(contact_id: int, body: str | None, template: str | None, as_json: bool) -> None:
    """Text a contact (needs OK to SMS)."""
    tenant = current_tenant()
    _sent(tenant.send_text(contact_id, body=body, template=template, actor="cli"), as_json)


@message_group.command("email")
@click.argument("contact_id", type=int)
@click.option("--subject")
@click.option("--body")
@click.option("--template", help="PACK:NAME of a template (may start with 'Subject:').")
@JSON_OPTION
def message_email(
    contact_id: int,
    subject: str | None,
    body: str | None,
    template: str | None,
    as_json: bool,
) -> None:
    """Email a contact."""
    tenant = current_tenant()
    sent = tenant.send_email(contact_id, subject=subject, body=body, template=template, actor="cli")
    _sent(sent, as_json)


@message_group.command("receive")
@click.option("--channel", type=click.Choice(["sms", "email"]), default="sms")
@click.option("--from", "sender", required=True, help="Phone number or email address.")
@click.option("--body", required=True)
@click.option("--subject")
@JSON_OPTION
def message_receive(
    channel: str,
    sender: str,
    body: str,
    subject: str | None,
    as_json: bool,
) -> None:
    """Log an inbound text or email (an engagement event of that contact)."""
    tenant = current_tenant()
    if channel == "sms":
        got = tenant.receive_text(sender, body)
    else:
        got = tenant.receive_email(sender, body, subject=subject)
    if as_json:
        print_json(got)
    else:
        console.print(f"message {got.id} from contact {got.contact_id} logged")


@message_group.command("list")
@click.argument("contact_id", type=int)
@click.option("--channel", type=click.Choice(["sms", "email"]))
@JSON_OPTION
def message_list(contact_id: int, channel: str | None, as_json: bool) -> None:
    """A contact's texts and emails, newest first."""
    found = current_tenant().messages(contact_id, channel)
    if as_json:
        print_json(found)
        return
    table = Table("id", "at", "channel", "", "to/from", "status", "text")
    for m in found:
        text = f"{m.subject}: {m.body}" if m.subject else m.body
        table.add_row(
            str(m.id),
            m.at.strftime("%Y-%m-%d %H:%M"),
            m.channel,
            m.direction,
            m.address,
            m.status if not m.error else f"{m.status}: {m.error}",
            text,
        )
    console.print(table)
