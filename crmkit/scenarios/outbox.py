"""A fake transport: outgoing emails and texts kept in memory instead of sent.

Scenario runs (``crmkit rules test``, pytest's scenario items) and crmkit's pytest
fixtures register one, so running a pack's tests never sends real mail or texts: the
message is stored as sent, with a ``captured-N`` reference, and the test reads it here.

>>> captured = CapturedMessages()
>>> crm = CRM("sqlite:///crm.db", plugins=[captured])
>>> ...                                   # a tick carries out a scheduled email
>>> [m.subject for m in captured.to_contact(1)]
['Welcome to Acme, Ada']
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from crmkit.markers import hookimpl
from crmkit.transports import SmsOutbox

# The name the fake transport is registered under (one per plugin manager).
PLUGIN_NAME = "crmkit-captured-messages"


@dataclass(frozen=True)
class CapturedMessage:
    """One message crmkit would have sent."""

    kind: Literal["email", "text"]
    tenant: str
    contact_id: int
    to: str
    body: str
    subject: str | None = None
    reference: str = ""

    def matches(self, kind: str | None, subject: str | None, body: str | None) -> bool:
        """Whether the message is of ``kind`` with ``subject`` and ``body`` (None: any;
        ``*`` and ``?`` in them are wildcards, as in shell patterns)."""
        return (
            (kind is None or kind == self.kind)
            and (subject is None or fnmatch.fnmatchcase(self.subject or "", subject))
            and (body is None or fnmatch.fnmatchcase(self.body.strip(), body.strip()))
        )

    def describe(self) -> str:
        subject = f" {self.subject!r}" if self.subject else ""
        first = self.body.strip().splitlines()[0] if self.body.strip() else ""
        return f"{self.kind} to {self.to}{subject}: {first}"


class CapturedMessages:
    """A plugin that takes every outgoing email and text first and keeps it in
    :attr:`messages` (nothing reaches SMTP, the SMS outbox or another transport)."""

    def __init__(self) -> None:
        self.messages: list[CapturedMessage] = []

    def _keep(self, kind: Literal["email", "text"], tenant: str, message: Mapping[str, Any]) -> str:
        reference = f"captured-{len(self.messages) + 1}"
        self.messages.append(
            CapturedMessage(
                kind=kind,
                tenant=tenant,
                contact_id=int(message["contact_id"]),
                to=str(message["to"]),
                body=str(message["body"]),
                subject=message.get("subject"),
                reference=reference,
            )
        )
        return reference

    @hookimpl(tryfirst=True)
    def crmkit_send_email(
        self, tenant: str, message: dict[str, Any], settings: Mapping[str, Any]
    ) -> str:
        return self._keep("email", tenant, message)

    @hookimpl(tryfirst=True)
    def crmkit_send_sms(self, tenant: str, message: dict[str, Any], outbox: SmsOutbox) -> str:
        return self._keep("text", tenant, message)

    def to_contact(self, contact_id: int, tenant: str | None = None) -> list[CapturedMessage]:
        """The messages sent to one contact (of ``tenant``, when given), oldest first."""
        return [
            m
            for m in self.messages
            if m.contact_id == contact_id and (tenant is None or m.tenant == tenant)
        ]

    def clear(self) -> None:
        self.messages.clear()

    def __iter__(self) -> Iterator[CapturedMessage]:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)
