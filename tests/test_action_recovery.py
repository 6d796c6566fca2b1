"""Actions and messages a killed process left ``running`` / ``sending`` are taken back
by a later carry-out once their lease has run out: retried a bounded number of times,
then failed with ``action_failed``, so rules chained on it still fire.

The kill is simulated in process: the transport raises a BaseException, which nothing
in crmkit catches, so the rows stay exactly as a process killed mid-send leaves them.
(tests/reliability/test_killed_send.py kills a real ``crmkit tick`` with SIGKILL.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import FrozenClock, PackPlugin

from crmkit import CRM, Tenant, hookimpl
from crmkit.storage.models import ScheduledActionRow
from crmkit.upcoming import INTERRUPTED, LEASE, MAX_ATTEMPTS

UK_MOBILE = "07911 123456"
FALLBACK = """
rules:
  - name: call when the welcome text never went
    when: event.kind == action_failed and event.data.title == "Welcome text"
    then:
      - schedule: {kind: reminder, title: Call instead, in: 0 minutes}
"""


class Killed(BaseException):
    """What the process sees of a SIGKILL: nothing after this point runs."""


class KillingGateway:
    """Texts kill the process ``kills`` times, then go out; emails always go out."""

    def __init__(self, kills: int) -> None:
        self.kills = kills
        self.calls = 0

    @hookimpl
    def crmkit_send_sms(self, tenant: str, message: dict[str, Any]) -> str | None:
        self.calls += 1
        if self.kills:
            self.kills -= 1
            raise Killed
        return f"gw-{message['id']}"

    @hookimpl
    def crmkit_send_email(self, tenant: str, message: dict[str, Any]) -> str | None:
        return f"gw-{message['id']}"


def _tenant(
    db_url: str, clock: FrozenClock, tmp_path: Path, gateway: KillingGateway
) -> tuple[CRM, Tenant]:
    packs = PackPlugin(tmp_path, {"fallback": FALLBACK}, facets=())
    crm = CRM(db_url, plugins=[gateway, packs], clock=clock)
    crm.migrate()
    settings = {"phone_region": "GB", "mail_from": "team@acme-homes.com"}
    return crm, crm.configure_tenant("ct", ["clienttether", "fallback"], settings)


def _welcome_text(tenant: Tenant, contact_id: int) -> Any:
    found = tenant.actions(contact_id, include_closed=True)
    return next(a for a in found if a.title == "Welcome text")


def _killed_tick(tenant: Tenant, clock: FrozenClock) -> None:
    clock.advance(seconds=LEASE.total_seconds() + 60)
    with pytest.raises(Killed):
        tenant.tick()


def test_a_killed_send_is_retried_then_failed_and_chained_rules_fire(
    db_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    gateway = KillingGateway(kills=MAX_ATTEMPTS)
    crm, tenant = _tenant(db_url, clock, tmp_path, gateway)
    mo = tenant.add_contact({"first_name": "Mo", "phone": UK_MOBILE, "email": "mo@example.com"})
    tenant.record_event(mo.id, "web_lead")
    with pytest.raises(Killed):
        tenant.tick()
    assert _welcome_text(tenant, mo.id).status == "running"
    assert [m.status for m in tenant.messages(mo.id, "sms")] == ["sending"]
    # Within the lease the claim is the killed tick's (it might still be sending): a
    # second tick carries out the rest and leaves the text alone.
    summary = tenant.tick()
    assert (summary.actions.done, summary.actions.failed, gateway.calls) == (1, 0, 1)
    assert _welcome_text(tenant, mo.id).status == "running"
    for _ in range(MAX_ATTEMPTS - 1):
        _killed_tick(tenant, clock)
    assert gateway.calls == MAX_ATTEMPTS
    clock.advance(seconds=LEASE.total_seconds() + 60)
    summary = tenant.tick()
    assert summary.actions.failed == 1 and gateway.calls == MAX_ATTEMPTS
    assert f"interrupted {MAX_ATTEMPTS} times" in summary.actions.errors[0]
    text = _welcome_text(tenant, mo.id)
    sms = tenant.messages(mo.id, "sms")
    assert text.status == "failed" and text.message_id == sms[0].id
    assert [(m.status, m.error) for m in sms] == [("failed", INTERRUPTED)] * MAX_ATTEMPTS
    history = [h.what for h in tenant.profile(mo.id).history]
    assert history.count("action_failed") == 1
    # The rule chained on the failure fired: the reminder is on the contact.
    reminders = [a for a in tenant.actions(mo.id, include_closed=True) if a.kind == "reminder"]
    assert [a.title for a in reminders] == ["Call instead"]
    assert tenant.tick().actions.failed == 0
    crm.close()


def test_a_killed_send_is_retried_and_goes_out(
    db_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    gateway = KillingGateway(kills=1)
    crm, tenant = _tenant(db_url, clock, tmp_path, gateway)
    mo = tenant.add_contact({"first_name": "Mo", "phone": UK_MOBILE, "email": "mo@example.com"})
    tenant.record_event(mo.id, "web_lead")
    with pytest.raises(Killed):
        tenant.tick()
    clock.advance(seconds=LEASE.total_seconds() + 60)
    assert tenant.tick().actions.done == 2  # the welcome text, then the welcome email
    text = _welcome_text(tenant, mo.id)
    sms = tenant.messages(mo.id, "sms")
    assert [(m.status, m.error) for m in sms] == [("sent", None), ("failed", INTERRUPTED)]
    assert (text.status, text.message_id) == ("done", sms[0].id)
    history = [h.what for h in tenant.profile(mo.id).history]
    assert history.count("action_done") == 2 and "action_failed" not in history
    crm.close()


def test_a_message_killed_mid_send_by_hand_is_failed_once_its_lease_runs_out(
    db_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    crm, tenant = _tenant(db_url, clock, tmp_path, KillingGateway(kills=1))
    mo = tenant.add_contact({"first_name": "Mo", "phone": UK_MOBILE})
    with pytest.raises(Killed):
        tenant.send_text(mo.id, body="hello")
    tenant.tick()
    assert [m.status for m in tenant.messages(mo.id)] == ["sending"]
    clock.advance(seconds=LEASE.total_seconds() + 1)
    tenant.tick()
    assert [(m.status, m.error) for m in tenant.messages(mo.id)] == [("failed", INTERRUPTED)]
    crm.close()


def test_two_ticks_recovering_one_action_record_its_failure_once(
    db_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    from crmkit import upcoming

    crm, tenant = _tenant(db_url, clock, tmp_path, KillingGateway(kills=MAX_ATTEMPTS))
    mo = tenant.add_contact({"first_name": "Mo", "phone": UK_MOBILE})
    tenant.schedule_action(mo.id, "text", "Welcome text", clock.now, body="hi")
    with pytest.raises(Killed):
        tenant.tick()
    for _ in range(MAX_ATTEMPTS - 1):
        _killed_tick(tenant, clock)
    clock.advance(seconds=LEASE.total_seconds() + 60)
    # Another tick read the stale claim, then this one gave up on it first.
    a = ScheduledActionRow.__table__.c
    with crm.db.connect() as conn:
        read = conn.execute(sa.select(a).where(a.status == "running")).mappings().one()
    assert tenant.tick().actions.failed == 1
    late = upcoming.DueSummary()
    upcoming._give_up(tenant.context, read, clock.now, late)
    assert late.failed == 0 and late.errors == []
    history = [h.what for h in tenant.profile(mo.id).history]
    assert history.count("action_failed") == 1
    crm.close()
