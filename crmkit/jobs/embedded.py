"""The embedded worker: jobs run in this process, for a CRM on one SQLite file.

One loop queues every tenant's tick each ``tick_every`` seconds and runs the due jobs
one at a time, oldest first, so a single-file user needs no other service. Only one
embedded worker may run on a file (SQLite has one writer anyway): at start it puts back
the jobs a killed worker left ``doing``, which the idempotent tasks then finish.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crmkit.core import CRM
from crmkit.errors import ConfigError
from crmkit.jobs.tasks import enqueue_ticks, run_job
from crmkit.storage import job_queue

# The longest the loop sleeps before looking again (a job queued by another process,
# such as `crmkit action schedule`, is seen within this long).
POLL_SECONDS = 1.0


@dataclass
class WorkerReport:
    """What a worker run did: jobs by outcome, and ticks queued."""

    outcomes: dict[str, int] = field(default_factory=dict)
    ticks: int = 0

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


@contextmanager
def only_worker(database: str | None) -> Iterator[None]:
    """Hold the file ``<database>-worker.lock`` for as long as the worker runs; a second
    worker on the same file is refused (it would take back the first one's running
    job as interrupted). In-memory databases have no other worker."""
    if not database or database == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; one worker is then the rule
        yield
        return
    path = f"{database}-worker.lock"
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another crmkit worker runs on {database} (it holds {path}): "
                "SQLite runs one worker per file"
            ) from None
        yield
    finally:
        os.close(handle)


def run_embedded(
    crm: CRM,
    *,
    tick_every: float,
    burst: bool = False,
    stop: threading.Event | None = None,
) -> WorkerReport:
    """Run jobs until ``stop`` is set; with ``burst``, tick once and return when no job
    is due."""
    with only_worker(crm.db.url.database):
        return _run(crm, tick_every=tick_every, burst=burst, stop=stop or threading.Event())


def _run(crm: CRM, *, tick_every: float, burst: bool, stop: threading.Event) -> WorkerReport:
    report = WorkerReport()
    with crm.db.begin() as conn:
        job_queue.take_back_interrupted(conn)
    next_tick: datetime | None = crm.clock()
    while not stop.is_set():
        now = crm.clock()
        if next_tick is not None and now >= next_tick:
            report.ticks += enqueue_ticks(crm, now)
            next_tick = None if burst else now + timedelta(seconds=tick_every)
        with crm.db.connect() as conn:
            due = job_queue.next_due(conn, now)
            upcoming = job_queue.next_run_at(conn) if due is None else None
        if due is not None:
            report.count(run_job(crm, *due))
            continue
        if burst:
            break
        waits = [(t - now).total_seconds() for t in (next_tick, upcoming) if t is not None]
        stop.wait(max(min([*waits, POLL_SECONDS]), 0.05))
    return report
