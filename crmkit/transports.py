"""crmkit's default transports, used when no plugin's ``crmkit_send_*`` hook answers.

Email goes over SMTP with the standard library, configured by tenant settings:
``smtp_host`` (required), ``smtp_port`` (25), ``smtp_starttls`` (false),
``smtp_username`` and ``smtp_password_env`` (the name of the environment variable that
holds the password, so no secret sits in the database), and ``mail_from``.
Texts go to the ``sms_outbox`` table, for a gateway process to pick up.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from email_validator import EmailNotValidError
from sqlalchemy import Connection

from crmkit.emails import normalize_email
from crmkit.errors import ConfigError
from crmkit.storage.models import SmsOutboxRow
from crmkit.storage.scope import TenantScope

SMTP_TIMEOUT = 30


def mail_from(settings: Mapping[str, Any]) -> str:
    """The tenant's sender address (setting ``mail_from``), checked."""
    sender = settings.get("mail_from")
    if not sender:
        raise ConfigError("email is not set up: set the tenant setting mail_from")
    try:
        return normalize_email(str(sender))
    except EmailNotValidError as exc:
        raise ConfigError(f"setting mail_from {sender!r} is not an email address: {exc}") from None


def smtp_send(settings: Mapping[str, Any], message: Mapping[str, Any]) -> str:
    """Send one email over SMTP; return its Message-ID."""
    host = settings.get("smtp_host")
    if not host:
        raise ConfigError("email is not set up: set the tenant setting smtp_host")
    try:
        port = int(settings.get("smtp_port") or 25)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting smtp_port {settings.get('smtp_port')!r} is not a port"
        ) from None
    email = EmailMessage()
    email["From"] = message["from"]
    email["To"] = message["to"]
    email["Subject"] = message["subject"]
    email["Message-ID"] = make_msgid(domain=str(message["from"]).rpartition("@")[2])
    email.set_content(message["body"])
    with smtplib.SMTP(str(host), port, timeout=SMTP_TIMEOUT) as smtp:
        if settings.get("smtp_starttls"):
            smtp.starttls()
        username = settings.get("smtp_username")
        if username:
            variable = str(settings.get("smtp_password_env") or "")
            password = os.environ.get(variable) if variable else None
            if password is None:
                raise ConfigError(
                    "setting smtp_username needs smtp_password_env, the name of a set "
                    "environment variable holding the password"
                )
            smtp.login(str(username), password)
        smtp.send_message(email)
    return str(email["Message-ID"])


def outbox_send(conn: Connection, tenant_id: int, message: Mapping[str, Any], now: datetime) -> str:
    """Queue a text in ``sms_outbox``; return its reference."""
    scope = TenantScope(tenant_id)
    conn.execute(
        scope.insert(SmsOutboxRow),
        scope.rows(
            [
                {
                    "message_id": message["id"],
                    "contact_id": message["contact_id"],
                    "to_number": message["to"],
                    "body": message["body"],
                    "queued_at": now,
                }
            ]
        ),
    )
    return f"outbox:{message['id']}"
