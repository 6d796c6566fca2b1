"""A real ``crmkit tick`` killed with SIGKILL while it sends an email (to a server that
trickles its greeting, so the send is surely under way) leaves the action ``running``
and the message ``sending``. Once the lease has run out (moved back in the database,
as if the time had passed), the next ``crmkit tick`` retries the action, and after
MAX_ATTEMPTS claims fails it with an ``action_failed`` event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from slow_smtp import Trickler, trickling_server
from support import MailInbox, crmkit_command, free_port

from crmkit import CRM, Tenant
from crmkit.storage.models import MessageRow, ScheduledActionRow
from crmkit.transports import DEADLINE_ENV
from crmkit.upcoming import INTERRUPTED, LEASE, MAX_ATTEMPTS

# Long enough that only the kill ends the send.
HANGING_DEADLINE = "600"


@pytest.fixture
def crm(db_url: str) -> Iterator[CRM]:
    instance = CRM(db_url)
    instance.migrate()
    yield instance
    instance.close()


def _tenant(crm: CRM, port: int) -> tuple[Tenant, int]:
    settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "mail_from": "team@acme.com"}
    tenant = crm.configure_tenant("ct", ["clienttether"], settings)
    ada = tenant.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    tenant.schedule_action(ada.id, "email", "Hello", crm.clock(), subject="Hi", body="Hello")
    return tenant, ada.id


def _tick(db_url: str, deadline: str = HANGING_DEADLINE) -> subprocess.Popen[str]:
    env = {**os.environ, DEADLINE_ENV: deadline}
    return subprocess.Popen(
        [*crmkit_command(), "--db", db_url, "--tenant", "ct", "tick", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _kill_mid_send(db_url: str, server: Trickler) -> None:
    server.connected.clear()
    tick = _tick(db_url)
    try:
        assert server.connected.wait(60), "crmkit tick never connected to the SMTP server"
    finally:
        tick.send_signal(signal.SIGKILL)
        tick.wait(30)
    assert tick.returncode == -signal.SIGKILL


def _statuses(crm: CRM) -> tuple[list[str], list[str]]:
    a, m = ScheduledActionRow.__table__.c, MessageRow.__table__.c
    with crm.db.connect() as conn:
        actions = list(conn.scalars(sa.select(a.status).order_by(a.id)))
        messages = list(conn.scalars(sa.select(m.status).order_by(m.id)))
    return actions, messages


def _let_the_lease_run_out(crm: CRM) -> None:
    """What 15 minutes do to the rows a killed tick left."""
    a, m = ScheduledActionRow.__table__.c, MessageRow.__table__.c
    long_ago = datetime.now(timezone.utc) - LEASE - timedelta(minutes=1)
    with crm.db.begin() as conn:
        conn.execute(
            sa.update(ScheduledActionRow).where(a.status == "running").values(claimed_at=long_ago)
        )
        conn.execute(sa.update(MessageRow).where(m.status == "sending").values(at=long_ago))


def test_a_killed_tick_is_retried_and_the_email_goes_out(db_url: str, crm: CRM) -> None:
    with trickling_server(interval=1.0, limit=120.0) as server:
        tenant, ada = _tenant(crm, server.port)
        _kill_mid_send(db_url, server)
    assert _statuses(crm) == (["running"], ["sending"])
    inbox = MailInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        tenant.update_settings({"smtp_port": controller.port})
        # Within the lease a tick leaves the claim to the (killed) tick that holds it.
        assert tenant.tick().actions.done == 0
        assert _statuses(crm) == (["running"], ["sending"])
        _let_the_lease_run_out(crm)
        again = _tick(db_url)
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
    finally:
        controller.stop()
    assert json.loads(out)["actions"]["done"] == 1
    assert [mail["Subject"] for mail in inbox.messages] == ["Hi"]
    assert _statuses(crm) == (["done"], ["failed", "sent"])
    assert tenant.messages(ada)[1].error == INTERRUPTED
    assert [h.what for h in tenant.profile(ada).history] == ["action_done"]


def test_a_tick_killed_every_time_gives_up_with_action_failed(db_url: str, crm: CRM) -> None:
    with trickling_server(interval=1.0, limit=300.0) as server:
        tenant, ada = _tenant(crm, server.port)
        for _ in range(MAX_ATTEMPTS):
            _kill_mid_send(db_url, server)
            assert _statuses(crm)[0] == ["running"]
            _let_the_lease_run_out(crm)
        assert server.connections == MAX_ATTEMPTS
        last = _tick(db_url)
        out, err = last.communicate(timeout=120)
    assert last.returncode == 1, err  # a tick with a failed action exits 1 (issue 25)
    summary = json.loads(out)["actions"]
    assert summary["failed"] == 1 and f"interrupted {MAX_ATTEMPTS} times" in summary["errors"][0]
    assert server.connections == MAX_ATTEMPTS  # given up, not tried a fourth time
    assert _statuses(crm) == (["failed"], ["failed"] * MAX_ATTEMPTS)
    history = tenant.profile(ada).history
    assert [h.what for h in history] == ["action_failed"]
    action = tenant.actions(ada, include_closed=True)[0]
    assert action.message_id == max(m.id for m in tenant.messages(ada))
