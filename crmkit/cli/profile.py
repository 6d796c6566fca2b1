"""Commands for profiles: edit, tags, duplicate, delete, phone check, custom fields,
upcoming actions, texts and emails; and the readable profile ``contact show`` prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from crmkit.cli.context import JSON_OPTION, current_tenant, fail, pairs
from crmkit.cli.output import coloured, console, line, print_json
from crmkit.field_types import FIELD_TYPES
from crmkit.profiles import ContactProfile, shown


def print_profile(profile: ContactProfile, colours: dict[str, dict[str, str]]) -> None:
    """The profile as a person reads it, section by section."""
    name = f"{profile.first_name} {profile.last_name}".strip()
    console.print(line((name, "bold"), f"  (contact {profile.id})"), highlight=False)
    if profile.archived:
        console.print("archived", style="bold red")
    header = Table(show_header=False, box=None, pad_edge=False)
    header.add_column(style="bold")
    header.add_column()
    for facet, value in profile.facets.items():
        header.add_row(facet, coloured(value, colours.get(facet, {}).get(value, "grey")))
    header.add_row("score", f"{profile.score:g}")
    header.add_row("tags", ", ".join(profile.tags) or "-")
    console.print(header)
    for section in profile.sections:
        table = Table(title=section.label, title_justify="left", show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for item in section.values:
            text = shown(item.value)
            if item.note:
                text = f"{text}  ({item.note})"
            table.add_row(item.label, text)
        console.print(table)
    _print_actions(profile.upcoming, "Upcoming actions")
    if profile.messages:
        table = Table("at", "channel", "", "text", title="Texts and emails", title_justify="left")
        for m in profile.messages:
            body = line(f"{m.subject}: {m.body}" if m.subject else m.body)
            if m.status == "failed":
                body = line(body, (f"  (failed: {m.error})", "red"))
            table.add_row(m.at.strftime("%Y-%m-%d %H:%M"), m.channel, m.direction, body)
        console.print(table)
    if profile.history:
        table = Table("at", "what", "detail", title="Recent history", title_justify="left")
        for h in profile.history:
            table.add_row(h.at.strftime("%Y-%m-%d %H:%M"), h.what, h.detail)
        console.print(table)


def _print_actions(actions: list[Any], title: str) -> None:
    if not actions:
        console.print(f"{title}: none")
        return
    table = Table("id", "due (UTC)", "kind", "title", "status", "by", title=title)
    table.title_justify = "left"
    for a in actions:
        status = a.status if not a.result else f"{a.status}: {a.result}"
        table.add_row(
            str(a.id), a.due_at.strftime("%Y-%m-%d %H:%M"), a.kind, a.title, status, a.cause
        )
    console.print(table)


def _print_changes(transitions: list[Any], contact_id: int) -> None:
    if not transitions:
        console.print(f"contact {contact_id}: nothing changed")
    for t in transitions:
        console.print(
            f"contact {contact_id}: {t.name} {t.old or '-'} -> {t.new or '-'}",
            markup=False,
            highlight=False,
        )


def register(cli: click.Group, contact: click.Group) -> None:
    """Attach the commands to the ``crmkit`` group and its ``contact`` group."""
    from crmkit.cli.main import _parse_at

    @contact.command("edit")
    @click.argument("contact_id", type=int)
    @click.option("--first-name")
    @click.option("--last-name")
    @click.option("--email")
    @click.option("--phone", help="The cell phone; a new number is checked for OK to SMS.")
    @click.option("--account", help="Company; an empty value clears it.")
    @click.option("--city")
    @click.option("--state")
    @click.option("--country")
    @click.option("--industry")
    @click.option("--lead-source")
    @click.option("--ok-to-sms/--no-ok-to-sms", default=None, help="Express permission to text.")
    @click.option("--field", "field_values", multiple=True, metavar="NAME=VALUE")
    @click.option("--actor", default="cli", show_default=True)
    @JSON_OPTION
    @click.pass_context
    def contact_edit(
        ctx: click.Context,
        /,
        contact_id: int,
        field_values: tuple[str, ...],
        actor: str,
        as_json: bool,
        **values: Any,
    ) -> None:
        """Change profile values (only the options given); every change is explained."""
        patch = {k: v for k, v in values.items() if v is not None}
        if field_values:
            patch["fields"] = {
                k: (v or None) for k, v in pairs(field_values, "--field", allow_empty=True).items()
            }
        if not patch:
            fail("nothing to change: give at least one option")
        changes = current_tenant().update_contact(contact_id, patch, actor=actor)
        if as_json:
            print_json(changes)
        else:
            _print_changes(changes, contact_id)

    @contact.command("tag")
    @click.argument("contact_id", type=int)
    @click.option("--add", "adding", multiple=True, help="A new or existing tag. Repeatable.")
    @click.option("--remove", "removing", multiple=True, help="Repeatable.")
    @click.option("--actor", default="cli", show_default=True)
    @JSON_OPTION
    @click.pass_context
    def contact_tag(
        ctx: click.Context,
        contact_id: int,
        adding: tuple[str, ...],
        removing: tuple[str, ...],
        actor: str,
        as_json: bool,
    ) -> None:
        """Add or remove tags."""
        if not adding and not removing:
            fail("give --add or --remove")
        changes = current_tenant().tag_contact(contact_id, adding, removing, actor=actor)
        if as_json:
            print_json(changes)
        else:
            _print_changes(changes, contact_id)

    @contact.command("duplicate")
    @click.argument("contact_id", type=int)
    @JSON_OPTION
    @click.pass_context
    def contact_duplicate(ctx: click.Context, contact_id: int, as_json: bool) -> None:
        """Copy a contact's fields, tags and facets (not notes, events or history)."""
        copy = current_tenant().duplicate_contact(contact_id, actor="cli")
        if as_json:
            print_json(copy)
        else:
            console.print(f"contact {copy.id} is a copy of contact {contact_id}")

    @contact.command("delete")
    @click.argument("contact_id", type=int)
    @JSON_OPTION
    @click.pass_context
    def contact_delete(ctx: click.Context, contact_id: int, as_json: bool) -> None:
        """Archive a contact; delete an archived one for good (with all its records)."""
        outcome = current_tenant().delete_contact(contact_id, actor="cli")
        if as_json:
            print_json({"contact_id": contact_id, "outcome": outcome})
        elif outcome == "archived":
            console.print(f"contact {contact_id} archived (delete it again to erase it)")
        else:
            console.print(f"contact {contact_id} erased with its events, notes and messages")

    @contact.command("restore")
    @click.argument("contact_id", type=int)
    @JSON_OPTION
    @click.pass_context
    def contact_restore(ctx: click.Context, contact_id: int, as_json: bool) -> None:
        """Bring an archived contact back."""
        changed = current_tenant().restore_contact(contact_id, actor="cli")
        if as_json:
            print_json({"contact_id": contact_id, "restored": changed})
        else:
            console.print(
                f"contact {contact_id} " + ("restored" if changed else "was not archived")
            )

    @contact.command("check-phone")
    @click.argument("contact_id", type=int)
    @JSON_OPTION
    @click.pass_context
    def contact_check_phone(ctx: click.Context, contact_id: int, as_json: bool) -> None:
        """Look the cell phone up again and set OK to SMS from the answer."""
        found = current_tenant().check_phone(contact_id)
        if as_json:
            print_json(found)
            return
        verdict = "OK to SMS" if found["ok_to_sms"] else found["sms_note"] or "not OK to SMS"
        console.print(
            f"contact {contact_id}: {found['phone'] or 'no cell phone'} "
            f"({found['line_type'] or '-'}): {verdict}",
            highlight=False,
        )

    @contact.command("profile")
    @click.argument("contact_id", type=int)
    @click.option(
        "--html",
        "html_file",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        required=True,
        help="Write the profile as a self-contained HTML page here.",
    )
    @click.pass_context
    def contact_profile(ctx: click.Context, contact_id: int, html_file: Path) -> None:
        """Write a contact's profile page as HTML."""
        page = current_tenant().profile_html(contact_id)
        try:
            html_file.write_text(page, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html_file}: {exc.strerror}")
        console.print(f"wrote {html_file}", highlight=False)

    @cli.command("tags")
    @JSON_OPTION
    @click.pass_context
    def tags(ctx: click.Context, as_json: bool) -> None:
        """The tenant's tags and how many contacts carry each."""
        found = current_tenant().tags()
        if as_json:
            print_json(found)
            return
        table = Table("tag", "contacts")
        for row in found:
            table.add_row(row["tag"], str(row["contacts"]))
        console.print(table)

    # ------------------------------------------------------------ fields
    @cli.group("field")
    def field_group() -> None:
        """The tenant's profile fields and custom fields."""

    @field_group.command("list")
    @JSON_OPTION
    @click.pass_context
    def field_list(ctx: click.Context, as_json: bool) -> None:
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
    @click.pass_context
    def field_add(
        ctx: click.Context, label: str, kind: str, choices: tuple[str, ...], as_json: bool
    ) -> None:
        """Add a custom field; its name is the label in lower case with underscores."""
        added = current_tenant().add_custom_field(label, kind, choices)
        if as_json:
            print_json(added)
        else:
            console.print(f"custom field {added.name} ({added.type}) added", highlight=False)

    @field_group.command("apply")
    @click.argument("name")
    @JSON_OPTION
    @click.pass_context
    def field_apply(ctx: click.Context, name: str, as_json: bool) -> None:
        """Put a field (empty) on every contact that does not have it yet."""
        count = current_tenant().apply_custom_field(name)
        if as_json:
            print_json({"field": name, "contacts": count})
        else:
            console.print(f"field {name} added to {count} contacts", highlight=False)

    # ------------------------------------------------------------ actions
    @cli.group("action")
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
    @click.pass_context
    def action_schedule(
        ctx: click.Context,
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
        due_at = _parse_at(due, "--due")
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
    @click.pass_context
    def action_list(
        ctx: click.Context, contact_id: int | None, include_closed: bool, as_json: bool
    ) -> None:
        """Upcoming actions by due time."""
        found = current_tenant().actions(contact_id, include_closed=include_closed)
        if as_json:
            print_json(found)
        else:
            _print_actions(found, "Actions")

    @action_group.command("cancel")
    @click.argument("action_id", type=int)
    @JSON_OPTION
    @click.pass_context
    def action_cancel(ctx: click.Context, action_id: int, as_json: bool) -> None:
        """Cancel a pending action."""
        action = current_tenant().cancel_action(action_id, actor="cli")
        if as_json:
            print_json(action)
        else:
            console.print(f"action {action_id} cancelled")

    # ------------------------------------------------------------ messages
    @cli.group("message")
    def message_group() -> None:
        """Texts and emails to and from contacts."""

    def _sent(message: Any, as_json: bool) -> None:
        if as_json:
            print_json(message)
        else:
            console.print(
                f"message {message.id} {message.status} to {message.address}", highlight=False
            )

    @message_group.command("text")
    @click.argument("contact_id", type=int)
    @click.option("--body")
    @click.option("--template", help="PACK:NAME of a template.")
    @JSON_OPTION
    @click.pass_context
    def message_text(
        ctx: click.Context,
        contact_id: int,
        body: str | None,
        template: str | None,
        as_json: bool,
    ) -> None:
        """Text a contact (needs OK to SMS)."""
        tenant = current_tenant()
        _sent(tenant.send_text(contact_id, body=body, template=template, actor="cli"), as_json)

    @message_group.command("email")
    @click.argument("contact_id", type=int)
    @click.option("--subject")
    @click.option("--body")
    @click.option("--template", help="PACK:NAME of a template (may start with 'Subject:').")
    @JSON_OPTION
    @click.pass_context
    def message_email(
        ctx: click.Context,
        contact_id: int,
        subject: str | None,
        body: str | None,
        template: str | None,
        as_json: bool,
    ) -> None:
        """Email a contact."""
        tenant = current_tenant()
        sent = tenant.send_email(
            contact_id, subject=subject, body=body, template=template, actor="cli"
        )
        _sent(sent, as_json)

    @message_group.command("receive")
    @click.option("--channel", type=click.Choice(["sms", "email"]), default="sms")
    @click.option("--from", "sender", required=True, help="Phone number or email address.")
    @click.option("--body", required=True)
    @click.option("--subject")
    @JSON_OPTION
    @click.pass_context
    def message_receive(
        ctx: click.Context,
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
    @click.pass_context
    def message_list(
        ctx: click.Context, contact_id: int, channel: str | None, as_json: bool
    ) -> None:
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
