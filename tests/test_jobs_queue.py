"""The job queue: a job is written with the change that causes it, runs once, and a job
run again after its worker died finishes what was left without repeating anything.

On PostgreSQL the worker is procrastinate's, run in this process in burst mode; on SQLite
the embedded loop. (tests/reliability/test_worker_kill.py kills real worker processes.)
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import FrozenClock, invoker

from crmkit import CRM, Tenant, hookimpl
from crmkit.jobs import WorkerOptions, enqueue_ticks, run_job, run_worker
from crmkit.jobs.embedded import only_worker
from crmkit.storage import job_queue
from crmkit.storage.job_queue import QueuedJobRow
from crmkit.storage.models import SmsOutboxRow, TickRunRow
from crmkit.testing.databases import copy_sqlite
from crmkit.upcoming import action_key, enqueue_action

UK_MOBILE = "07911 123456"


class Killed(BaseException):
    """What the process sees of a SIGKILL: nothing after this point runs."""


class DyingGateway:
    """The first text kills the process mid-send; later ones go out."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.kills = 1

    @hookimpl
    def crmkit_send_sms(self, tenant: str, message: dict[str, Any]) -> str | None:
        self.sent.append(message["id"])
        if self.kills:
            self.kills -= 1
            raise Killed
        return f"gw-{message['id']}"


def _tenant(crm: CRM, name: str = "ct") -> Tenant:
    return crm.configure_tenant(name, ["clienttether"], {"phone_region": "GB"})


def _count(crm: CRM, table: Any, where: Any = None) -> int:
    stmt = sa.select(sa.func.count()).select_from(table)
    with crm.db.connect() as conn:
        return int(conn.scalar(stmt if where is None else stmt.where(where)) or 0)


def _procrastinate_jobs(crm: CRM) -> int:
    with crm.db.connect() as conn:
        return int(conn.scalar(sa.text("SELECT count(*) FROM procrastinate_jobs")) or 0)


def _burst(db_url: str, clock: FrozenClock) -> None:
    run_worker(functools.partial(CRM, db_url, clock=clock), WorkerOptions(burst=True))


def test_a_rolled_back_change_queues_nothing_and_a_committed_one_runs_once(
    crm: CRM, db_url: str, clock: FrozenClock
) -> None:
    tenant = _tenant(crm)
    mo = tenant.add_contact({"first_name": "Mo", "phone": UK_MOBILE})
    postgres = crm.db.dialect.name == "postgresql"
    if postgres:  # what the first worker does; jobs are then deferred in the transaction
        from crmkit.jobs.postgres import install

        assert install(crm) is True
    with pytest.raises(RuntimeError), crm.db.begin() as conn:
        enqueue_action(conn, tenant.context.runtime(conn).tenant_id, 99, clock.now, clock.now)
        raise RuntimeError("the change failed")
    assert _count(crm, QueuedJobRow.__table__) == 0
    if postgres:
        assert _procrastinate_jobs(crm) == 0
    action = tenant.schedule_action(mo.id, "text", "Hello", clock.now, body="hi")
    if postgres:
        assert _procrastinate_jobs(crm) == 1  # committed with the action
    _burst(db_url, clock)
    _burst(db_url, clock)  # a second worker run finds nothing left to do
    assert tenant.actions(mo.id, include_closed=True)[0].status == "done"
    assert [m.status for m in tenant.messages(mo.id)] == ["sent"]
    assert _count(crm, SmsOutboxRow.__table__) == 1
    assert [h.what for h in tenant.profile(mo.id).history] == ["action_done"]
    with crm.db.connect() as conn:
        tid = tenant.context.runtime(conn).tenant_id
    # The burst's tick and the action: each done once; running one again does nothing.
    assert run_job(crm, tid, action_key(action.id)) == "skipped"
    c = QueuedJobRow.__table__.c
    with crm.db.connect() as conn:
        rows = conn.execute(sa.select(c.task, c.status, c.attempts).order_by(c.task)).all()
    assert [tuple(r) for r in rows] == [("action", "done", 1), ("tick", "done", 1)], rows


def test_a_job_run_again_after_its_worker_died_mid_send_sends_the_same_message_once(
    crm: CRM, db_url: str, clock: FrozenClock
) -> None:
    gateway = DyingGateway()
    crm = CRM(db_url, plugins=[gateway], clock=clock)  # on the crm fixture's database
    tenant = _tenant(crm)
    mo = tenant.add_contact({"first_name": "Mo", "phone": UK_MOBILE})
    action = tenant.schedule_action(mo.id, "text", "Hello", clock.now, body="hi")
    with crm.db.connect() as conn:
        tid = tenant.context.runtime(conn).tenant_id
    with pytest.raises(Killed):
        run_job(crm, tid, action_key(action.id))
    assert [m.status for m in tenant.messages(mo.id)] == ["sending"]
    assert run_job(crm, tid, action_key(action.id)) == "done"
    messages = tenant.messages(mo.id)
    assert [(m.status, m.reference) for m in messages] == [("sent", f"gw-{messages[0].id}")]
    assert gateway.sent == [messages[0].id, messages[0].id]  # the same id: the transport's key
    assert tenant.actions(mo.id, include_closed=True)[0].status == "done"
    assert [h.what for h in tenant.profile(mo.id).history] == ["action_done"]
    assert run_job(crm, tid, action_key(action.id)) == "skipped"
    crm.close()


def test_a_tick_job_runs_its_tick_once_and_queues_what_rules_scheduled(
    crm: CRM, clock: FrozenClock
) -> None:
    tenant = _tenant(crm)
    mo = tenant.add_contact({"first_name": "Mo", "phone": UK_MOBILE, "email": "mo@example.com"})
    tenant.record_event(mo.id, "web_lead")  # clienttether's plan schedules its first steps
    assert enqueue_ticks(crm, clock.now) == 1
    assert enqueue_ticks(crm, clock.now.replace(minute=1)) == 0  # one tick waits already
    with crm.db.connect() as conn:
        tid = tenant.context.runtime(conn).tenant_id
    key = f"tick:{clock.now.isoformat()}"
    assert run_job(crm, tid, key) == "done"
    # As a worker killed after the tick committed leaves it: the job is run again.
    c = QueuedJobRow.__table__.c
    with crm.db.begin() as conn:
        conn.execute(sa.update(QueuedJobRow).where(c.key == key).values(status="doing"))
    assert run_job(crm, tid, key) == "done"
    assert _count(crm, TickRunRow.__table__) == 1
    due = [a.id for a in tenant.actions(mo.id) if a.due_at <= clock.now]
    with crm.db.connect() as conn:
        queued = {job_queue.get(conn, tid, action_key(i)) is not None for i in due}
    assert due and queued == {True}


def test_crmkit_worker_on_a_sqlite_file_ticks_and_sends_a_scheduled_text(
    crmkit_sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (PostgreSQL's worker is run by the first test; this is the single-file user's.)
    db_url = copy_sqlite(crmkit_sqlite_template, tmp_path / "crm.db")
    crm = CRM(db_url)  # the command's clock: the real one
    tenant = _tenant(crm)
    mo = tenant.add_contact({"first_name": "Mo", "phone": UK_MOBILE})
    tenant.schedule_action(mo.id, "text", "Hello", crm.clock(), body="hi")
    invoke = invoker(db_url, monkeypatch, "ct")
    assert invoke("worker", "--burst").strip() == "1 ticks queued; jobs: 2 done"
    assert [m.status for m in tenant.messages(mo.id)] == ["sent"]
    assert _count(crm, TickRunRow.__table__) == 1
    crm.close()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--tick-every", "7"), "--tick-every 7: a tick every 7 seconds does not divide a minute"),
        (("--tick-every", "0"), "--tick-every 0: the tick interval is a positive number"),
        (("--processes", "0"), "--processes 0: at least one worker process"),
        (("--processes", "2"), "SQLite runs one embedded worker (one writer at a time)"),
    ],
)
def test_crmkit_worker_refuses_bad_options_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], error: str
) -> None:
    invoke = invoker(f"sqlite:///{tmp_path}/crm.db", monkeypatch, "ct")
    assert error in invoke("worker", *args, code=1)


def test_a_second_worker_on_one_sqlite_file_is_refused(
    crmkit_sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = copy_sqlite(crmkit_sqlite_template, tmp_path / "crm.db")
    with only_worker(str(tmp_path / "crm.db")):  # as a running worker holds it
        out = invoker(db_url, monkeypatch, "ct")("worker", "--burst", code=1)
    assert f"another crmkit worker runs on {tmp_path / 'crm.db'}" in out
    assert "SQLite runs one worker per file" in out
