"""The whole contact profile in one read: header, contact info, expanded info,
opportunity, custom fields, tags, upcoming actions, messages and recent history; and
its rendering as a self-contained HTML page (``templates/profile.html.j2``)."""

from __future__ import annotations

from datetime import datetime
from importlib.resources import files
from typing import Any

from jinja2 import select_autoescape
from pydantic import BaseModel, Field

from crmkit.contacts_service import get_contact
from crmkit.context import TenantContext
from crmkit.messaging import messages
from crmkit.schemas import ActionOut, ContactOut, MessageOut
from crmkit.storage.models import EventRow, NoteRow
from crmkit.storage.scope import TenantScope
from crmkit.templating import render_safely, sandboxed_environment
from crmkit.tenant_settings import facet_colours
from crmkit.upcoming import actions

HISTORY_LENGTH = 15
RECENT_MESSAGES = 10
SECTION_LABELS = {
    "header": "Header",
    "info": "Contact info",
    "expanded": "Expanded info",
    "opportunity": "Opportunity",
    "custom": "Custom fields",
}
# Built-in attributes, shown before the packs' fields of the same section.
_BUILT_IN = {
    "header": (("account", "Account name"), ("lead_source", "Lead source")),
    "info": (
        ("first_name", "First name"),
        ("last_name", "Last name"),
        ("account", "Company"),
        ("email", "Email"),
        ("phone", "Cell phone"),
        ("ok_to_sms", "OK to SMS"),
        ("city", "City"),
        ("state", "State"),
        ("country", "Country"),
        ("industry", "Industry"),
    ),
}


class ProfileValue(BaseModel):
    name: str
    label: str
    type: str
    value: Any = None
    note: str | None = None


class ProfileSection(BaseModel):
    name: str
    label: str
    values: list[ProfileValue]


class HistoryItem(BaseModel):
    at: datetime
    what: str
    detail: str


class ContactProfile(ContactOut):
    """A contact with everything its profile page shows."""

    sections: list[ProfileSection] = Field(default_factory=list)
    upcoming: list[ActionOut] = Field(default_factory=list)
    messages: list[MessageOut] = Field(default_factory=list)
    history: list[HistoryItem] = Field(default_factory=list)


def _history(ctx: TenantContext, contact_id: int) -> list[HistoryItem]:
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        e = EventRow.__table__.c
        n = NoteRow.__table__.c
        events = conn.execute(
            scope.select(e.kind, e.data, e.occurred_at, e.status)
            .where(e.contact_id == contact_id)
            .order_by(e.occurred_at.desc(), e.seq.desc())
            .limit(HISTORY_LENGTH)
        ).all()
        notes = conn.execute(
            scope.select(n.body, n.author, n.created_at)
            .where(n.contact_id == contact_id)
            .order_by(n.created_at.desc(), n.id.desc())
            .limit(HISTORY_LENGTH)
        ).all()
    items = [
        HistoryItem(
            at=at,
            what=kind if status == "applied" else f"{kind} (failed)",
            detail=", ".join(f"{k}={v}" for k, v in sorted((data or {}).items())),
        )
        for kind, data, at, status in events
    ]
    items += [
        HistoryItem(at=at, what=f"note by {author}" if author else "note", detail=body)
        for body, author, at in notes
    ]
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:HISTORY_LENGTH]


def build_profile(ctx: TenantContext, contact_id: int) -> ContactProfile:
    contact = get_contact(ctx, contact_id)
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
    plain = contact.model_dump()
    sections: list[ProfileSection] = []
    for section, label in SECTION_LABELS.items():
        values = [
            ProfileValue(
                name=name,
                label=title,
                type="bool" if name == "ok_to_sms" else "text",
                value=plain[name],
                note=contact.sms_note if name == "ok_to_sms" else None,
            )
            for name, title in _BUILT_IN.get(section, ())
        ]
        for spec in runtime.fields.values():
            if spec.section != section:
                continue
            # A custom field shows on the contacts that have it (set or applied to all).
            if section == "custom" and spec.name not in contact.fields:
                continue
            values.append(
                ProfileValue(
                    name=f"fields.{spec.name}",
                    label=spec.label,
                    type=spec.type,
                    value=contact.fields.get(spec.name),
                )
            )
        if section == "custom":
            values += [
                ProfileValue(name=f"fields.{key}", label=key, type="text", value=value)
                for key, value in contact.fields.items()
                if key not in runtime.fields
            ]
        if values:
            sections.append(ProfileSection(name=section, label=label, values=values))
    return ContactProfile(
        **plain,
        sections=sections,
        upcoming=actions(ctx, contact_id),
        messages=messages(ctx, contact_id, limit=RECENT_MESSAGES),
        history=_history(ctx, contact_id),
    )


def shown(value: Any) -> str:
    """A value as a profile shows it."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_html(profile: ContactProfile, colours: dict[str, dict[str, str]]) -> str:
    """The profile as one HTML page with its styles inline (no outside resources)."""
    source = files("crmkit.templates").joinpath("profile.html.j2").read_text("utf-8")
    environment = sandboxed_environment(
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["shown"] = shown
    return render_safely(
        lambda: environment.from_string(source).render(profile=profile, colours=colours),
        "the profile template",
    )


def profile_html(ctx: TenantContext, contact_id: int) -> str:
    """The contact's profile as a self-contained HTML page, in the tenant's colours."""
    return render_html(build_profile(ctx, contact_id), facet_colours(ctx))
