"""Shared test support for the files in tests/: the helpers of
:mod:`crmkit.testing.support` (re-exported, so these files write ``from support import
...``), and the first-party packs' names and event kinds."""

from __future__ import annotations

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
    "PackPlugin",
    "crmkit_command",
    "durable_in_use",
    "events_state",
    "invoker",
    "needs_durable",
    "snapshot",
]
