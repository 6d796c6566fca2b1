"""Run workers: procrastinate's on PostgreSQL, the embedded loop on SQLite.

:func:`run_worker` is what ``crmkit worker`` calls; ``processes`` above one starts that
many worker processes on PostgreSQL (each its own CRM and procrastinate worker, so a
slow tenant holds one process, not all of them).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass

from crmkit.core import CRM
from crmkit.errors import ConfigError
from crmkit.jobs.embedded import WorkerReport, run_embedded
from crmkit.jobs.tasks import enqueue_ticks, tick_cron
from crmkit.storage import job_queue


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs.

    ``tick_every``: seconds between a tenant's ticks; ``burst``: tick once, run what is
    due, then stop (a cron line's way, for scripts and tests); ``heartbeat``: seconds
    between a PostgreSQL worker's heartbeats (a worker silent for three of them is taken
    for stopped and its jobs are run again); ``processes``: worker processes
    (PostgreSQL only).
    """

    tick_every: int = 60
    burst: bool = False
    heartbeat: float = 10.0
    processes: int = 1

    def check(self) -> None:
        if self.processes < 1:
            raise ConfigError(f"--processes {self.processes}: at least one worker process")
        if self.heartbeat <= 0:
            raise ConfigError(f"--heartbeat {self.heartbeat:g}: a positive number of seconds")
        try:
            tick_cron(self.tick_every)
        except ValueError as exc:
            raise ConfigError(f"--tick-every {self.tick_every}: {exc}") from None


def run_worker(
    make_crm: Callable[[], CRM], options: WorkerOptions, stop: threading.Event | None = None
) -> WorkerReport:
    """Run the workers of the CRM ``make_crm`` builds until stopped (SIGINT or SIGTERM
    on PostgreSQL, ``stop`` or Ctrl-C on SQLite), or in burst mode until nothing is due."""
    options.check()
    crm = make_crm()
    try:
        if crm.db.dialect.name != "postgresql" and options.processes != 1:
            raise ConfigError(
                "SQLite runs one embedded worker (one writer at a time): "
                "leave out --processes, or use PostgreSQL"
            )
        crm.tenant_names()  # a database `crmkit init` never made fails here, clearly
        if crm.db.dialect.name != "postgresql":
            return run_embedded(crm, tick_every=options.tick_every, burst=options.burst, stop=stop)
        # procrastinate (asyncio, psycopg_pool, croniter: about a second to import here)
        # is loaded only by a worker on PostgreSQL, not by every crmkit command.
        from crmkit.jobs import postgres

        postgres.install(crm)
        if options.processes == 1:
            _run_procrastinate(crm, options)
            return WorkerReport()
    finally:
        crm.close()
    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(target=_child, args=(make_crm, options), name=f"crmkit-worker-{n}")
        for n in range(options.processes)
    ]
    for child in children:
        child.start()
    try:
        for child in children:
            child.join()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
    return WorkerReport()


def _child(make_crm: Callable[[], CRM], options: WorkerOptions) -> None:
    crm = make_crm()
    try:
        _run_procrastinate(crm, options)
    finally:
        crm.close()


def _run_procrastinate(crm: CRM, options: WorkerOptions) -> None:
    from crmkit.jobs import postgres  # procrastinate: see run_worker

    stalled_after = 3 * options.heartbeat
    app = postgres.build_app(
        crm,
        crm.db.url,
        tick_every=options.tick_every,
        stalled_after=stalled_after,
        periodic=not options.burst,
    )

    async def work() -> None:
        async with app.open_async():
            await postgres.recover_stalled(app, stalled_after)
            if options.burst:
                enqueue_ticks(crm, crm.clock())
            await app.run_worker_async(
                queues=[job_queue.QUEUE],
                wait=not options.burst,
                concurrency=1,
                delete_jobs="successful",
                update_heartbeat_interval=options.heartbeat,
                stalled_worker_timeout=stalled_after,
            )

    asyncio.run(work())
