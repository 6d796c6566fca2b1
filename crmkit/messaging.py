"""Texts and emails: a per-contact log of messages in and out, sent through transports.

Sending renders the body (a literal or a pack template, in Jinja2's sandbox), checks
the contact can receive it (an email address; for texts a cell phone with OK to SMS on),
logs the message, hands it to the first ``crmkit_send_sms`` / ``crmkit_send_email``
plugin that answers (crmkit's default plugins last: SMTP and the SMS outbox), and records a
``message_out`` event. A refused or badly rendered message leaves no trace; a transport
failure is kept as a ``failed`` message and raised as :class:`DeliveryError`. Inbound
messages are logged and recorded as ``engagement`` events on channel ``sms`` or
``email``, so rules and scores see them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

import crmkit.tenant_settings as tenant_settings
from crmkit.contacts_service import get_contact
from crmkit.context import TenantContext
from crmkit.errors import CRMError, DeliveryError, NotFoundError, PolicyError, ValidationError
from crmkit.phones import parse_phone, region_of
from crmkit.recording import record_event
from crmkit.schemas import ContactOut, MessageOut
from crmkit.storage import counters
from crmkit.storage.models import ContactRow, MessageRow
from crmkit.storage.scope import TenantScope
from crmkit.templating import render_ref
from crmkit.transports import SmsOutbox, mail_from, outbox_send, smtp_credentials

Channel = Literal["sms", "email"]
SMS_LIMIT = 1600
EMAIL_LIMIT = 100_000
_M = MessageRow.__table__.c


def template_context(
    ctx: TenantContext, contact: ContactOut, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What a message template sees: ``contact`` (with ``name``), ``sender``, ``tenant``."""
    settings = tenant_settings.settings(ctx)
    data = contact.model_dump(mode="json")
    data["name"] = f"{contact.first_name} {contact.last_name}".strip()
    return {
        "contact": data,
        "sender": str(settings.get("sender_name") or ctx.name),
        "tenant": ctx.name,
        **dict(extra or {}),
    }


def split_subject(text: str) -> tuple[str | None, str]:
    """An email template may start with ``Subject: ...`` and a blank line."""
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        return first.split(":", 1)[1].strip() or None, rest.lstrip("\n")
    return None, text


def compose(
    ctx: TenantContext,
    contact: ContactOut,
    channel: Channel,
    *,
    body: str | None,
    template: str | None,
    subject: str | None = None,
    default_pack: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[str | None, str]:
    """(subject, body) of a message, rendered and checked; nothing is written."""
    if (body is None) == (template is None):
        raise ValidationError("a message needs either a body or a template (not both)")
    if template is not None:
        with ctx.db.connect() as conn:
            packs = ctx.runtime(conn).packs
        text = render_ref(packs, template, template_context(ctx, contact, extra), default_pack)
    else:
        text = str(body)
    if channel == "email":
        found, text = split_subject(text)
        subject = subject or found
        if not subject or not subject.strip():
            raise ValidationError(
                "an email needs a subject (give one, or start the template with 'Subject: ...')"
            )
        subject = subject.strip()
        if len(subject) > 300:
            raise ValidationError("an email subject is at most 300 characters")
    text = text.strip()
    limit = SMS_LIMIT if channel == "sms" else EMAIL_LIMIT
    if not text:
        raise ValidationError(f"the {channel} body is empty")
    if len(text) > limit:
        raise ValidationError(f"the {channel} body is {len(text)} characters (at most {limit})")
    return subject, text


def sendable(contact: ContactOut, channel: Channel) -> str:
    """The address to send to, or a PolicyError saying why the contact cannot get it."""
    who = f"contact {contact.id}"
    if contact.archived:
        raise PolicyError(f"{who} is archived; restore it before sending")
    if channel == "email":
        if not contact.email:
            raise PolicyError(f"{who} has no email address")
        return contact.email
    if not contact.phone:
        raise PolicyError(f"{who} has no cell phone to text")
    if not contact.ok_to_sms:
        reason = contact.sms_note or "no express permission to text (OK to SMS is off)"
        raise PolicyError(f"texting {who} is not allowed: {reason}")
    return contact.phone


def _insert(conn: Connection, ctx: TenantContext, row: dict[str, Any]) -> int:
    runtime = ctx.runtime(conn)
    scope = TenantScope(runtime.tenant_id)
    message_id = counters.allocate(conn, runtime.tenant_id, "message")
    conn.execute(scope.insert(MessageRow), scope.rows([{**row, "id": message_id}]))
    return message_id


def message_by_id(ctx: TenantContext, message_id: int) -> MessageOut:
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        row = conn.execute(scope.select(MessageRow.__table__).where(_M.id == message_id))
        found = row.mappings().first()
    if found is None:
        raise NotFoundError(f"message {message_id} does not exist in tenant {ctx.name!r}")
    return MessageOut.model_validate(dict(found))


def send(
    ctx: TenantContext,
    contact_id: int,
    channel: Channel,
    *,
    body: str | None = None,
    template: str | None = None,
    subject: str | None = None,
    actor: str = "api",
    action_id: int | None = None,
    default_pack: str | None = None,
    extra: Mapping[str, Any] | None = None,
    record: bool = True,
) -> MessageOut:
    """Send a text or an email to a contact (see the module docs)."""
    contact = get_contact(ctx, contact_id)
    address = sendable(contact, channel)
    settings = tenant_settings.settings(ctx)
    sender = mail_from(settings) if channel == "email" else None
    if channel == "email":
        # A login the operator's policy refuses is refused before the message is logged.
        smtp_credentials(settings)
    subject, text = compose(
        ctx, contact, channel,
        body=body, template=template, subject=subject, default_pack=default_pack, extra=extra,
    )  # fmt: skip
    now = ctx.clock()
    with ctx.db.begin() as conn:
        message_id = _insert(
            conn,
            ctx,
            {
                "contact_id": contact_id,
                "channel": channel,
                "direction": "out",
                "address": address,
                "subject": subject,
                "body": text,
                "status": "sending",
                "action_id": action_id,
                "actor": actor,
                "at": now,
            },
        )
    payload: dict[str, Any] = {"id": message_id, "contact_id": contact_id, "to": address}
    payload["body"] = text
    reference, error, outbox = _transport(ctx, channel, payload, settings, sender, subject)
    _mark_sent(ctx, payload, reference, error, outbox, now)
    if error is not None:
        raise DeliveryError(message_id, f"{channel} to contact {contact_id}: {error}")
    if record:
        data = {"channel": channel, "direction": "out", "message": message_id}
        record_event(ctx, contact_id, "message_out", data, id=f"message-{message_id}")
    return message_by_id(ctx, message_id)


def resume(ctx: TenantContext, message_id: int) -> MessageOut:
    """Hand a message left ``sending`` (its sender was killed before the transport
    answered) to the transport again, under the same id, and store what it did. For a
    job run again after its worker was killed (:func:`crmkit.upcoming.carry_out_action`).
    """
    found = message_by_id(ctx, message_id)
    if found.direction != "out" or found.status != "sending":
        raise PolicyError(f"message {message_id} is {found.status}, not being sent")
    channel: Channel = "email" if found.channel == "email" else "sms"
    settings = tenant_settings.settings(ctx)
    sender = mail_from(settings) if channel == "email" else None
    payload: dict[str, Any] = {
        "id": message_id,
        "contact_id": found.contact_id,
        "to": found.address,
        "body": found.body,
    }
    reference, error, outbox = _transport(ctx, channel, payload, settings, sender, found.subject)
    _mark_sent(ctx, payload, reference, error, outbox, ctx.clock())
    if error is not None:
        raise DeliveryError(message_id, f"{channel} to contact {found.contact_id}: {error}")
    return message_by_id(ctx, message_id)


def _mark_sent(
    ctx: TenantContext,
    payload: dict[str, Any],
    reference: str | None,
    error: str | None,
    outbox: SmsOutbox,
    now: datetime,
) -> None:
    """Store what the transport did: sent (with its reference, a queued text in the
    outbox in the same transaction) or failed (with the error)."""
    with ctx.db.begin() as conn:
        scope = TenantScope(ctx.write_runtime(conn).tenant_id)
        if error is None and outbox.queued:
            reference = outbox_send(conn, scope.tenant_id, payload, now)
        conn.execute(
            scope.update(MessageRow)
            .where(_M.id == payload["id"])
            .values(
                status="failed" if error else "sent",
                error=error,
                reference=None if reference is None else str(reference)[:300],
            )
        )


def _transport(
    ctx: TenantContext,
    channel: Channel,
    payload: dict[str, Any],
    settings: Mapping[str, Any],
    sender: str | None,
    subject: str | None,
) -> tuple[str | None, str | None, SmsOutbox]:
    """Hand the message to the first transport plugin that answers (crmkit's default
    plugins last); (reference, error, outbox)."""
    outbox = SmsOutbox(payload["id"])
    try:
        if channel == "email":
            payload.update({"from": sender, "subject": subject})
            reference = ctx.hooks.send_email(
                tenant=ctx.name, message=dict(payload), settings=settings
            )
        else:
            reference = ctx.hooks.send_sms(tenant=ctx.name, message=dict(payload), outbox=outbox)
    except Exception as exc:  # any transport failure is kept on the message
        error = str(exc) if isinstance(exc, CRMError) else f"{type(exc).__name__}: {exc}"
        return None, error, outbox
    return reference, None, outbox


def receive(
    ctx: TenantContext,
    channel: Channel,
    sender: str,
    body: str,
    *,
    subject: str | None = None,
    at: datetime | None = None,
) -> MessageOut:
    """Log an inbound text (from a phone number) or email (from an address) and record
    it as an ``engagement`` event of the contact with that number or address."""
    if not body or not body.strip():
        raise ValidationError(f"an inbound {channel} needs a body")
    c = ContactRow.__table__.c
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        if channel == "sms":
            try:
                address = parse_phone(sender, region_of(runtime.settings))
            except ValueError as exc:
                raise ValidationError(f"inbound text: sender: {exc}") from None
            match = c.phone == address
        else:
            address = sender.strip()
            match = c.email == address
        # The active contact with that number first, then the oldest.
        contact_id = conn.scalar(
            scope.select(c.id).where(match).order_by(c.archived, c.id).limit(1)
        )
    if contact_id is None:
        raise NotFoundError(f"no contact of tenant {ctx.name!r} has the {channel} {address}")
    moment = at or ctx.clock()
    with ctx.db.begin() as conn:
        message_id = _insert(
            conn,
            ctx,
            {
                "contact_id": contact_id,
                "channel": channel,
                "direction": "in",
                "address": address,
                "subject": subject,
                "body": body.strip(),
                "status": "received",
                "at": moment,
            },
        )
    data = {"channel": channel, "kind": "reply", "direction": "in", "message": message_id}
    record_event(ctx, contact_id, "engagement", data, id=f"message-{message_id}", at=moment)
    return message_by_id(ctx, message_id)


def messages(
    ctx: TenantContext, contact_id: int, channel: Channel | None = None, limit: int | None = None
) -> list[MessageOut]:
    """A contact's messages, newest first (the Text and Email tabs)."""
    get_contact(ctx, contact_id)
    if channel is not None and channel not in ("sms", "email"):
        raise ValidationError(f"unknown channel {channel!r} (sms or email)")
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        stmt = scope.select(MessageRow.__table__).where(_M.contact_id == contact_id)
        if channel:
            stmt = stmt.where(_M.channel == channel)
        stmt = stmt.order_by(_M.at.desc(), _M.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = conn.execute(stmt).mappings().all()
    return [MessageOut.model_validate(dict(row)) for row in rows]
