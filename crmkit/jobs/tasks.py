"""What a job does: the tasks, and running one job exactly once.

A job is a row of ``queued_jobs`` (:mod:`crmkit.storage.job_queue`); both workers, the
embedded one (SQLite) and procrastinate's (PostgreSQL), run it with :func:`run_job`.
Every task is idempotent by its key, so a job run again after its worker was killed
finishes what was left and repeats nothing:

* ``tick`` (``args: {"at": ISO time}``): the tenant's tick at that moment, unless a tick
  run for exactly that moment is already recorded (the tick is one transaction, so it
  either happened or did not); then a job for every due action that has none.
* ``action`` (``args: {"id": N}``): :func:`crmkit.upcoming.carry_out_action`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from crmkit.clock import as_utc
from crmkit.core import CRM
from crmkit.errors import CRMError
from crmkit.storage import job_queue
from crmkit.storage.models import TenantRow, TickRunRow
from crmkit.storage.scope import TenantScope
from crmkit.upcoming import carry_out_action, enqueue_due

log = logging.getLogger(__name__)

#: A task: given the CRM, the tenant's name and the job's args, it does the work and
#: says in a few words what it did (the worker logs it).
Task = Callable[[CRM, str, Mapping[str, Any]], str]


def tick_cron(seconds: int) -> str:
    """A cron line (with croniter's seconds field) for a tick every ``seconds``."""
    if seconds <= 0:
        raise ValueError("the tick interval is a positive number of seconds")
    if seconds % 60 == 0:
        minutes = seconds // 60
        if 60 % minutes:
            raise ValueError(f"a tick every {minutes} minutes does not divide an hour")
        return f"*/{minutes} * * * *"
    if 60 % seconds:
        raise ValueError(f"a tick every {seconds} seconds does not divide a minute")
    return f"* * * * * */{seconds}"


def tick_key(at: datetime) -> str:
    return f"tick:{as_utc(at).isoformat(timespec='seconds')}"


def _tick(crm: CRM, tenant: str, args: Mapping[str, Any]) -> str:
    at = as_utc(datetime.fromisoformat(str(args["at"])))
    ctx = crm.tenant_context(tenant)
    with crm.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        t = TickRunRow.__table__.c
        done = conn.scalar(scope.select(t.seq).where(t.at == at).limit(1)) is not None
    what = "had run already"
    if not done:
        summary = crm.tenant(tenant).tick(at, carry_out=False)
        what = f"{summary.changes} changes"
    queued = enqueue_due(ctx, at)
    return f"tick at {at.isoformat(timespec='seconds')}: {what}, {queued} due actions queued"


def _action(crm: CRM, tenant: str, args: Mapping[str, Any]) -> str:
    summary = carry_out_action(crm.tenant_context(tenant), int(args["id"]), crm.clock())
    if summary.errors:
        return summary.errors[0]
    outcome = [n for n, count in summary.model_dump().items() if count and n != "errors"]
    return f"action {args['id']}: {', '.join(outcome) or 'nothing left to do'}"


TASKS: dict[str, Task] = {"tick": _tick, "action": _action}


def run_job(crm: CRM, tenant_id: int, key: str) -> str:
    """Run the job ``key`` of the tenant unless it finished before; its outcome:
    ``done``, ``failed`` (a crmkit error, kept on the job) or ``skipped``."""
    with crm.db.begin() as conn:
        row = job_queue.start(conn, tenant_id, key)
        tenant = conn.scalar(select(TenantRow.name).where(TenantRow.id == tenant_id))
    if row is None or tenant is None:
        return "skipped"
    task = TASKS.get(str(row["task"]))
    error: str | None = None
    if task is None:
        error = f"unknown task {row['task']!r} (known: {', '.join(sorted(TASKS))})"
    else:
        try:
            log.info("%s: %s", tenant, task(crm, tenant, row["args"]))
        except CRMError as exc:
            error = str(exc)
    with crm.db.begin() as conn:
        job_queue.finish(conn, tenant_id, key, error, crm.clock())
    if error:
        log.warning("%s: job %s failed: %s", tenant, key, error)
    return "failed" if error else "done"


def enqueue_ticks(crm: CRM, at: datetime) -> int:
    """Queue a tick at ``at`` for every tenant that has none queued or running (a slow
    tenant's ticks do not pile up); how many were queued. One transaction."""
    at = as_utc(at).replace(microsecond=0)
    queued = 0
    with crm.db.begin() as conn:
        tenants = conn.execute(select(TenantRow.id).order_by(TenantRow.id)).scalars().all()
        for tenant_id in tenants:
            if job_queue.waiting(conn, tenant_id, "tick"):
                continue
            queued += job_queue.enqueue(
                conn, tenant_id, "tick", {"at": at.isoformat()},
                key=tick_key(at), run_at=at, now=crm.clock(),
            )  # fmt: skip
    return queued
