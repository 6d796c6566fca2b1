"""crmkit's default transports as a default plugin: email over SMTP, texts to the outbox.

Registered ``trylast``: any other plugin that sends a message (returns a reference)
wins, and one that returns None passes to these. The transports themselves live in
:mod:`crmkit.transports`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmkit.markers import hookimpl
from crmkit.transports import SmsOutbox, smtp_send


@hookimpl(trylast=True)
def crmkit_send_email(message: dict[str, Any], settings: Mapping[str, Any]) -> str | None:
    return smtp_send(settings, message)


@hookimpl(trylast=True)
def crmkit_send_sms(outbox: SmsOutbox) -> str | None:
    return outbox.queue()
