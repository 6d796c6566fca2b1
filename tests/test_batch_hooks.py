"""Plugin work on ingest: ``crmkit_on_changes`` once per wave, a bounded state cache."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import crmkit.recording
from crmkit import CRM, hookimpl
from crmkit.changes import ChangeContext
from crmkit.testing.support import events_state

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


class Counting:
    """Counts the ``crmkit_on_changes`` calls and the transitions they carry."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    @hookimpl
    def crmkit_on_changes(
        self, tenant: str, transitions: list[dict[str, Any]], context: ChangeContext
    ) -> None:
        self.calls.append(len(transitions))


def engagements(contacts: list[int], rounds: int, prefix: str = "e") -> list[dict[str, Any]]:
    """``rounds`` engagements per contact, each round in contact order."""
    return [
        {
            "id": f"{prefix}{n}-{contact}",
            "contact": contact,
            "kind": "engagement",
            "data": {"channel": "email", "kind": "reply"},
            "at": START + timedelta(minutes=n),
        }
        for n in range(rounds)
        for contact in contacts
    ]


def test_a_batch_calls_on_changes_once_per_wave_with_leadklozer_points_in_it(
    db_url: str,
) -> None:
    counting = Counting()
    crm = CRM(db_url, plugins=[counting])
    crm.migrate()
    tenant = crm.configure_tenant("lk", ["leadklozer"])
    ids = [tenant.add_contact({"first_name": f"C{n}"}).id for n in range(30)]
    counting.calls.clear()
    summary = tenant.ingest(engagements(ids, rounds=3), batch_size=5000)
    assert (summary.applied, summary.failed) == (90, 0)
    # Three waves of 30 events: one call with each wave's transitions (status, tag and
    # score; status and score; score), and one with the status points LeadKlozer's hook
    # gave where a status moved. Not a call per event.
    assert counting.calls == [90, 30, 60, 30, 30]
    scores = {c.id: c.score for c in tenant.list_contacts()}
    assert set(scores.values()) == {24.0}  # 3 replies of 8; status new then neutral
    crm.close()


def test_a_capped_state_cache_ends_where_one_by_one_does(
    crm: CRM, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    bound = crmkit.recording._Carry.bound

    def watched(self: Any, used: Any) -> None:
        bound(self, used)
        sizes.append(len(self.states))

    monkeypatch.setattr(crmkit.recording, "CARRIED_STATES", 4)
    monkeypatch.setattr(crmkit.recording._Carry, "bound", watched)
    reference = crm.configure_tenant("ref", ["leadklozer", "17hats"])
    batched = crm.configure_tenant("bat", ["leadklozer", "17hats"])
    for tenant in (reference, batched):
        for n in range(10):
            tenant.add_contact({"first_name": f"C{n}"})
    items = engagements(list(range(1, 11)), rounds=3)
    for item in items:
        reference.record_event(item["contact"], item["kind"], item["data"], id=item["id"])
    summary = batched.ingest(items, batch_size=3)
    assert summary.applied == 30
    assert sizes and max(sizes) <= 4
    assert events_state(crm, "bat") == events_state(crm, "ref")
