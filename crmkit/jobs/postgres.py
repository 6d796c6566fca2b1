"""Workers on PostgreSQL: procrastinate runs crmkit's jobs.

Each queued job row (:mod:`crmkit.storage.job_queue`) is a procrastinate job of the task
``crmkit.<task>`` on the queue ``crmkit``, under the tenant's lock: procrastinate runs
jobs with one lock one at a time, in the order they were queued, so a tenant's jobs
(its ticks included) never overlap, while other tenants' jobs run in other processes
and on other machines. Two periodic tasks, whose deferral procrastinate keeps to one
per moment however many workers run, do the rest:

* ``crmkit.enqueue_ticks`` queues every tenant's tick (each ``tick_every`` seconds);
* ``crmkit.recover_stalled`` hands the jobs of a worker that stopped sending heartbeats
  (killed, or its machine lost) back to the queue; their tasks are idempotent, so
  running them again finishes what was left and repeats nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import procrastinate
import sqlalchemy as sa
from procrastinate.schema import SchemaManager

from crmkit.core import CRM
from crmkit.jobs.tasks import TASKS, enqueue_ticks, run_job, tick_cron
from crmkit.storage import job_queue

log = logging.getLogger(__name__)
# Taken while procrastinate's schema is installed, so workers starting together install
# it once ("crmkit" in ASCII).
_INSTALL_LOCK = 0x63726D6B6974


def conninfo(url: sa.URL) -> str:
    """libpq's form of a SQLAlchemy PostgreSQL URL (its options, such as a schema's
    search_path, kept)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def install(crm: CRM) -> bool:
    """Install procrastinate's schema if the database lacks it, and hand it the jobs
    queued meanwhile; whether it was installed now."""
    with crm.db.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INSTALL_LOCK})
        fresh = not job_queue.procrastinate_installed(conn)
        if fresh:
            # The driver's own execute: the schema is many statements, with no parameters.
            raw: Any = conn.connection.driver_connection
            raw.execute(SchemaManager.get_schema())
        handed = job_queue.hand_over(conn)
    if handed:
        log.info("handed %d queued jobs to procrastinate", handed)
    return fresh


def build_app(
    crm: CRM, url: sa.URL, *, tick_every: int, stalled_after: float, periodic: bool = True
) -> procrastinate.App:
    """The procrastinate app a worker process runs: crmkit's tasks, and unless
    ``periodic`` is false (a burst run ticks once, by itself) the periodic ticks and the
    recovery of stalled jobs."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(url)))

    def job(tenant_id: int, key: str) -> None:
        run_job(crm, tenant_id, key)

    for task in TASKS:
        app.task(name=job_queue.task_name(task), queue=job_queue.QUEUE)(job)

    def ticks(timestamp: int) -> None:
        enqueue_ticks(crm, datetime.fromtimestamp(timestamp, timezone.utc))
        with crm.db.begin() as conn:
            job_queue.hand_over(conn)

    async def recover(timestamp: int) -> None:
        await recover_stalled(app, stalled_after)

    if not periodic:
        return app
    ticks_task: Any = app.task(name="crmkit.enqueue_ticks", queue=job_queue.QUEUE)(ticks)
    app.periodic(cron=tick_cron(tick_every), periodic_id="crmkit-ticks")(ticks_task)
    recover_task: Any = app.task(name="crmkit.recover_stalled", queue=job_queue.QUEUE)(recover)
    app.periodic(cron="* * * * * */10", periodic_id="crmkit-recovery")(recover_task)
    return app


async def recover_stalled(app: procrastinate.App, stalled_after: float) -> int:
    """Put back in the queue the jobs of workers silent for ``stalled_after`` seconds."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    for found in stalled:
        log.warning("job %s of a stopped worker goes back to the queue", found.id)
        await app.job_manager.retry_job(found)
    return len(list(stalled))
