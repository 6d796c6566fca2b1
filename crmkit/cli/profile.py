"""The readable profile ``contact show`` prints, and the table of upcoming actions."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from crmkit.cli.output import coloured, console, line
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
    print_actions(profile.upcoming, "Upcoming actions")
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


def print_actions(actions: list[Any], title: str) -> None:
    """The actions as a table under ``title`` (or "``title``: none")."""
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
