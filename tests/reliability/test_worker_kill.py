"""Real ``crmkit worker`` processes killed with SIGKILL lose no job and do none twice.

* One worker is killed while it sends an email (to a server that trickles its greeting,
  so the send is surely under way); the next worker run sends that same message once.
* Workers are killed again and again, as soon as one is seen running a job or at a
  random moment, while tenants' ticks and scheduled texts are due; once a worker is let
  finish, every job is done, every text is in the SMS outbox once, every action has one
  ``action_done`` event and no tick ran twice for its moment.

On PostgreSQL two worker processes run side by side (procrastinate's); on SQLite the
embedded one. A killed PostgreSQL worker's job waits for its heartbeat to go stale
(three heartbeats of 0.5 s) before another worker takes it back.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from slow_smtp import trickling_server
from support import MailInbox, crmkit_command, free_port

from crmkit import CRM, Tenant
from crmkit.storage.job_queue import QueuedJobRow
from crmkit.storage.models import EventRow, MessageRow, ScheduledActionRow, SmsOutboxRow, TickRunRow
from crmkit.transports import DEADLINE_ENV

UK_MOBILES = [f"07911 1234{n:02d}" for n in range(100)]
HEARTBEAT = "0.5"
STALE = 3 * float(HEARTBEAT) + 0.5  # a killed worker's heartbeat is old past this


@pytest.fixture
def crm(db_url: str) -> Iterator[CRM]:
    instance = CRM(db_url)
    instance.migrate()
    yield instance
    instance.close()


def _worker(db_url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*crmkit_command(), "--db", db_url, "worker", "--heartbeat", HEARTBEAT, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, DEADLINE_ENV: "600"},  # only the kill ends the hanging send
    )


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL


def _burst(db_url: str) -> None:
    """Let a worker finish what is due, after a killed worker's heartbeat went stale."""
    time.sleep(STALE)
    finished = _worker(db_url, "--burst")
    _, err = finished.communicate(timeout=180)
    assert finished.returncode == 0, err


def _jobs(crm: CRM) -> list[tuple[str, str]]:
    c = QueuedJobRow.__table__.c
    with crm.db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(c.key, c.status).order_by(c.key))]


def _run_again(crm: CRM) -> int:
    """How many jobs were started more than once (their worker was killed mid-job)."""
    c = QueuedJobRow.__table__.c
    with crm.db.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).where(c.attempts > 1)) or 0)


def _doing(crm: CRM) -> bool:
    c = QueuedJobRow.__table__.c
    with crm.db.connect() as conn:
        return conn.scalar(sa.select(c.key).where(c.status == "doing").limit(1)) is not None


def test_a_worker_killed_mid_send_sends_that_message_once_when_run_again(
    db_url: str, crm: CRM
) -> None:
    with trickling_server(interval=1.0, limit=120.0) as server:
        settings = {"smtp_host": "127.0.0.1", "smtp_port": server.port, "mail_from": "t@acme.com"}
        tenant = crm.configure_tenant("ct", ["clienttether"], settings)
        ada = tenant.add_contact({"first_name": "Ada", "email": "ada@example.com"}).id
        tenant.schedule_action(ada, "email", "Hello", crm.clock(), subject="Hi", body="Hello")
        worker = _worker(db_url)
        try:
            assert server.connected.wait(90), "the worker never connected to the SMTP server"
        finally:
            _kill(worker)
    assert ("action:1", "doing") in _jobs(crm)
    assert [m.status for m in tenant.messages(ada)] == ["sending"]
    inbox = MailInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        tenant.update_settings({"smtp_port": controller.port})
        _burst(db_url)
    finally:
        controller.stop()
    assert [mail["Subject"] for mail in inbox.messages] == ["Hi"]
    assert [(m.status, m.error) for m in tenant.messages(ada)] == [("sent", None)]
    assert [h.what for h in tenant.profile(ada).history] == ["action_done"]
    assert {status for _, status in _jobs(crm)} == {"done"}


def _tenants(crm: CRM, count: int, texts: int) -> list[Tenant]:
    tenants = []
    now = crm.clock()
    for n in range(count):
        tenant = crm.configure_tenant(f"t{n}", ["clienttether"], {"phone_region": "GB"})
        for k in range(texts):
            phone = UK_MOBILES[(n * texts + k) % len(UK_MOBILES)]
            contact = tenant.add_contact({"first_name": f"C{k}", "phone": phone}).id
            due = now.replace(microsecond=0) + timedelta(seconds=3 * (k % 4))
            tenant.schedule_action(contact, "text", f"Text {k}", due, body=f"hello {k}")
        tenants.append(tenant)
    return tenants


def test_workers_killed_again_and_again_lose_no_job_and_run_none_twice(
    db_url: str, crm: CRM
) -> None:
    # Every text falls due within 9 s of now (see _tenants).
    all_due = crm.clock() + timedelta(seconds=10)
    tenants = _tenants(crm, count=6, texts=4)
    processes = 2 if crm.db.dialect.name == "postgresql" else 1
    rng = random.Random(21)
    workers = [_worker(db_url, "--tick-every", "2") for _ in range(processes)]
    kills = 0
    try:
        for _ in range(5):
            # Kill as soon as a job is seen running, or at a random moment.
            until = time.monotonic() + rng.uniform(4.0, 12.0)
            while time.monotonic() < until and not _doing(crm):
                time.sleep(0.02)
            victim = rng.randrange(len(workers))
            _kill(workers[victim])
            kills += 1
            workers[victim] = _worker(db_url, "--tick-every", "2")
    finally:
        for worker in workers:
            _kill(worker)
    assert kills == 5
    # The kills can all land within seconds (each as soon as a job runs): the last burst
    # must come once every text is due, or a text not yet due is rightly left pending.
    while crm.clock() < all_due:
        time.sleep(0.1)
    _burst(db_url)
    a, m, o = ScheduledActionRow.__table__.c, MessageRow.__table__.c, SmsOutboxRow.__table__.c
    e, t = EventRow.__table__.c, TickRunRow.__table__.c
    with crm.db.connect() as conn:
        actions = conn.execute(sa.select(a.tenant_id, a.id, a.status)).all()
        messages = conn.execute(sa.select(m.tenant_id, m.action_id, m.status)).all()
        outbox = conn.execute(sa.select(o.tenant_id, o.message_id)).all()
        done_events = conn.execute(
            sa.select(e.tenant_id, e.id).where(e.kind == "action_done")
        ).all()
        ticks = conn.execute(sa.select(t.tenant_id, t.at)).all()
    texts = 6 * 4
    assert len(actions) == texts and {s for *_, s in actions} == {"done"}
    assert sorted((tid, aid) for tid, aid, _ in messages) == sorted(
        (tid, aid) for tid, aid, _ in actions
    )  # one message per action: none sent twice
    assert {s for *_, s in messages} == {"sent"} and len(outbox) == texts
    assert len(done_events) == texts
    assert len(ticks) == len(set(ticks)) and len({tid for tid, _ in ticks}) == len(tenants)
    assert {status for _, status in _jobs(crm)} == {"done"}
    # Some kills landed mid-job (the test would prove nothing otherwise).
    assert _run_again(crm) >= 1
