"""Putting a tenant's history in the order it happened, ready to play again.

Every event and tick run has a seq from one counter; a change by hand or by import, and
a contact's creation, carry the seq of the event or tick before them (``after_seq``,
``created_after_seq``). Sorting on that seq, then on the contact and its version, gives
the original order. Each contact starts from its values now with its transitions turned
back: all of them, or those since ``since``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from crmkit.errors import ReplayError
from crmkit.pipeline import ContactState, made_by_hand
from crmkit.replay.history import ContactHistory, History
from crmkit.replay.values import cut, undo

StepKind = Literal["event", "tick", "create", "change"]


@dataclass(order=True)
class Step:
    key: tuple[int, int, int, int]
    kind: StepKind = field(compare=False)
    item: dict[str, Any] = field(compare=False)


@dataclass
class Plan:
    # Contacts that exist before the first step, as they were then.
    present: list[ContactHistory]
    # Contacts created during the replay, as they were when created.
    created: dict[int, ContactHistory]
    # Events before ``since``: copied as they are, so history tests still see them.
    earlier_events: list[dict[str, Any]]
    steps: list[Step]
    warnings: list[str]


def copy_state(state: ContactState) -> ContactState:
    return ContactState(
        id=state.id,
        first_name=state.first_name,
        last_name=state.last_name,
        profile=dict(state.profile),
        account=state.account,
        account_id=state.account_id,
        archived=state.archived,
        ok_to_sms=state.ok_to_sms,
        score=state.score,
        fields=dict(state.fields),
        facets=dict(state.facets),
        tags=set(state.tags),
        version=state.version,
    )


def plan_replay(history: History, since: datetime | None) -> Plan:
    accounts = {a["name"]: a["id"] for a in history.accounts}
    plan = Plan([], {}, [], [], [])
    name = history.tenant
    for contact_id, contact in history.contacts.items():
        state = copy_state(contact.state)
        later = [t for t in contact.transitions if since is None or t["at"] >= since]
        for t in reversed(later):
            if t["target"] == "field" and cut(t["old"]):
                plan.warnings.append(
                    f"contact {contact_id}: {t['name']} once held a value too long for the "
                    "change log; its earlier value cannot be restored exactly"
                )
            undo(state, t, history.field_types, accounts)
        start = ContactHistory(
            state, contact.created_at, contact.created_after_seq, contact.sms_note
        )
        if since is not None and contact.created_at < since:
            plan.present.append(start)
        else:
            if contact.created_after_seq is None:
                raise ReplayError(
                    f"tenant {name!r}: contact {contact_id} was created before crmkit recorded "
                    "where creations stand among events (database migration 0005); replay "
                    "from a later time with --since"
                )
            plan.created[contact_id] = start
            plan.steps.append(Step((contact.created_after_seq, 1, contact_id, -1), "create", {}))
        for t in later:
            if not made_by_hand(t):
                continue
            if t["after_seq"] is None:
                raise ReplayError(
                    f"tenant {name!r}: contact {contact_id}, version {t['version']}: a change "
                    "by hand made before crmkit recorded where such changes stand among "
                    "events (database migration 0005); replay from a later time with --since"
                )
            plan.steps.append(Step((t["after_seq"], 1, contact_id, t["version"]), "change", t))
    unplaced = 0
    for event in history.events:
        if since is None or event["recorded_at"] >= since:
            plan.steps.append(Step((event["seq"], 0, 0, 0), "event", event))
            unplaced += event["batch_seq"] is None
        else:
            plan.earlier_events.append(event)
    if unplaced:
        plan.warnings.append(
            f"{unplaced} events were recorded before crmkit logged tick runs (database "
            "migration 0005): ticks of that time are not replayed"
        )
    for tick in history.ticks:
        if since is None or tick["at"] >= since:
            plan.steps.append(Step((tick["seq"], 0, 0, 0), "tick", tick))
    plan.steps.sort()
    return plan
