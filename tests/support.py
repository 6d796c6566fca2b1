"""Shared test support for the files in tests/: the helpers of
:mod:`crmkit.testing.support` (re-exported, so these files write ``from support import
...``), and the first-party packs' names and event kinds."""

from __future__ import annotations

import socket
from email import message_from_bytes
from email.message import Message
from typing import Any

from crmkit.testing.support import (
    STAGE,
    FrozenClock,
    PackPlugin,
    crmkit_command,
    durable_in_use,
    events_state,
    invoker,
    needs_durable,
    snapshot,
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, for a test's own server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailInbox:
    """An aiosmtpd handler that keeps the messages it receives, parsed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"


ALL_PACKS = ["17hats", "funnel", "contacts", "leadklozer", "clienttether"]
# Kinds the first-party rulesets react to, and engagements (LeadKlozer's Smart Score).
EVENT_KINDS = [
    "lead_form_submitted",
    "web_lead",
    "quote_accepted",
    "invoice_sent",
    "lead_converted",
    "estimate_requested",
    "meeting_booked",
    "email_sent",
    "call_logged",
]
ENGAGEMENTS = [
    {"channel": "email", "kind": "reply"},
    {"channel": "web", "kind": "visit"},
    {"channel": "sms", "kind": "text", "direction": "in"},
    {"channel": "social", "kind": "like"},
]

__all__ = [
    "ALL_PACKS",
    "ENGAGEMENTS",
    "EVENT_KINDS",
    "STAGE",
    "FrozenClock",
    "MailInbox",
    "PackPlugin",
    "crmkit_command",
    "durable_in_use",
    "events_state",
    "free_port",
    "invoker",
    "needs_durable",
    "snapshot",
]
