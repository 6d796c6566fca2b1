"""Work off the request path: jobs and the workers that run them.

Ticks (one per tenant, every ``tick_every`` seconds, no cron line needed) and upcoming
actions (scheduled texts and emails included) are jobs. A job is written in the same
transaction as the change that causes it (:mod:`crmkit.storage.job_queue`), so nothing
runs for a change that rolled back and nothing is lost for one that committed. On
PostgreSQL procrastinate runs them (:mod:`crmkit.jobs.postgres`): one tenant's jobs one
at a time, tenants in parallel across processes and machines. On SQLite they run in the
worker's own process (:mod:`crmkit.jobs.embedded`). Tasks are idempotent by their key
(:mod:`crmkit.jobs.tasks`), so a worker killed mid-job loses nothing and does nothing
twice.
"""

from __future__ import annotations

from crmkit.jobs.embedded import WorkerReport, run_embedded
from crmkit.jobs.tasks import TASKS, enqueue_ticks, run_job, tick_key
from crmkit.jobs.worker import WorkerOptions, run_worker

__all__ = [
    "TASKS",
    "WorkerOptions",
    "WorkerReport",
    "enqueue_ticks",
    "run_embedded",
    "run_job",
    "run_worker",
    "tick_key",
]
