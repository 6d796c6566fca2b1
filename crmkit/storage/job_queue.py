"""The job queue's storage: jobs written in the caller's transaction.

A job is a row of ``queued_jobs``, keyed by ``(tenant_id, key)``: the key names the work
(``tick:2026-05-01T09:00:00+00:00``, ``action:12``), so enqueueing the same work twice
adds nothing. :func:`enqueue` writes it on the connection of the change that causes the
job, so a change that rolls back leaves no job and a committed one always has its job.

* On SQLite the table is the queue itself: ``crmkit worker`` picks the next due row.
* On PostgreSQL each row is also handed to procrastinate, in the same transaction and
  on the same psycopg connection, as a job of the task ``crmkit.<task>`` under the
  tenant's lock (so one tenant's jobs run one at a time) that names the row. A database
  where procrastinate's schema is not installed yet (no worker has started) keeps the
  rows with ``handed_over`` false; the first worker hands them over (:func:`hand_over`).

The row's ``status`` (``todo``, ``doing``, ``done``, ``failed``) is what a worker
checks before running a job: a finished job is never run again.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from crmkit.storage.models import Base
from crmkit.storage.scope import TenantScope
from crmkit.storage.types import UTCDateTime

QUEUE = "crmkit"
PROCRASTINATE_TABLE = "procrastinate_jobs"


class QueuedJobRow(Base):
    """One job of a tenant: which work (``task`` with ``args``), when it may run, and
    how far it got. ``key`` is unique per tenant: the same work is queued once."""

    __tablename__ = "queued_jobs"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    task: Mapped[str] = mapped_column(String(50))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="todo")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    handed_over: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # procrastinate's job id (PostgreSQL), for finding a job in its tables.
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The embedded worker picks the next due job of any tenant (a single-file CRM has
    # one worker); the tenant-led primary key serves everything else.
    __table_args__ = (Index(None, "status", "run_at"),)

    def __repr__(self) -> str:
        return f"QueuedJobRow({self.tenant_id!r}, {self.key!r}, {self.status!r})"


_J = QueuedJobRow.__table__.c


def tenant_lock(tenant_id: int) -> str:
    """The procrastinate lock every job of the tenant holds: one runs at a time."""
    return f"crmkit-tenant-{tenant_id}"


def task_name(task: str) -> str:
    return f"crmkit.{task}"


def procrastinate_installed(conn: Connection) -> bool:
    """Whether procrastinate's schema is in the database (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.scalar(
        text("SELECT to_regclass(:name) IS NOT NULL"), {"name": PROCRASTINATE_TABLE}
    )
    return bool(found)


def enqueue(
    conn: Connection,
    tenant_id: int,
    task: str,
    args: Mapping[str, Any],
    *,
    key: str,
    run_at: datetime,
    now: datetime,
) -> bool:
    """Queue ``task`` for the tenant in the transaction of ``conn``; False (and nothing
    written) when a job with ``key`` was queued before."""
    if len(key) > 200:
        raise ValueError(f"job key {key[:40]!r}... is longer than 200 characters")
    scope = TenantScope(tenant_id)
    exists = conn.scalar(scope.select(_J.key).where(_J.key == key))
    if exists is not None:
        return False
    row = {
        "key": key,
        "task": task,
        "args": dict(args),
        "run_at": run_at,
        "status": "todo",
        "attempts": 0,
        "handed_over": False,
        "enqueued_at": now,
    }
    conn.execute(scope.insert(QueuedJobRow), scope.rows([row]))
    if procrastinate_installed(conn):
        _defer(conn, tenant_id, task, key, run_at)
    return True


@functools.lru_cache(maxsize=1)
def _deferrer() -> Any:
    """A procrastinate app used only to defer jobs on a connection given to it."""
    # procrastinate (asyncio, psycopg_pool, croniter) is imported only where jobs are
    # handed to it, not by every crmkit command.
    import procrastinate

    return procrastinate.App(connector=procrastinate.SyncPsycopgConnector())


def _defer(conn: Connection, tenant_id: int, task: str, key: str, run_at: datetime) -> None:
    """Hand a row to procrastinate on ``conn``'s own psycopg connection: the job is part
    of the same transaction as the row (and the change that caused it)."""
    raw = conn.connection.driver_connection
    job_id = (
        _deferrer()
        .configure_task(
            task_name(task),
            queue=QUEUE,
            lock=tenant_lock(tenant_id),
            schedule_at=run_at,
            connection=raw,
        )
        .defer(tenant_id=tenant_id, key=key)
    )
    scope = TenantScope(tenant_id)
    conn.execute(
        scope.update(QueuedJobRow).where(_J.key == key).values(handed_over=True, job_id=job_id)
    )


def hand_over(conn: Connection) -> int:
    """Hand procrastinate the rows queued before its schema was installed; how many."""
    if not procrastinate_installed(conn):
        return 0
    pending = conn.execute(
        select(_J.tenant_id, _J.task, _J.key, _J.run_at)
        .where(_J.handed_over.is_(False), _J.status.in_(("todo", "doing")))
        .order_by(_J.enqueued_at, _J.tenant_id, _J.key)
        .with_for_update(skip_locked=True)
    ).all()
    for tenant_id, task, key, run_at in pending:
        _defer(conn, tenant_id, task, key, run_at)
    return len(pending)


def get(conn: Connection, tenant_id: int, key: str) -> Mapping[str, Any] | None:
    scope = TenantScope(tenant_id)
    found = conn.execute(scope.select(QueuedJobRow.__table__).where(_J.key == key))
    row = found.mappings().first()
    return None if row is None else dict(row)


def start(conn: Connection, tenant_id: int, key: str) -> Mapping[str, Any] | None:
    """Mark a job ``doing`` (one more attempt); None when it is finished or unknown, so
    that a job run again after it finished does nothing."""
    row = get(conn, tenant_id, key)
    if row is None or row["status"] in ("done", "failed"):
        return None
    conn.execute(
        TenantScope(tenant_id)
        .update(QueuedJobRow)
        .where(_J.key == key)
        .values(status="doing", attempts=_J.attempts + 1)
    )
    return row


def finish(conn: Connection, tenant_id: int, key: str, error: str | None, now: datetime) -> None:
    conn.execute(
        TenantScope(tenant_id)
        .update(QueuedJobRow)
        .where(_J.key == key)
        .values(status="failed" if error else "done", error=error, finished_at=now)
    )


def waiting(conn: Connection, tenant_id: int, task: str) -> bool:
    """Whether a job of ``task`` of the tenant is queued or running."""
    scope = TenantScope(tenant_id)
    found = conn.scalar(
        scope.select(_J.key).where(_J.task == task, _J.status.in_(("todo", "doing"))).limit(1)
    )
    return found is not None


def next_due(conn: Connection, now: datetime) -> tuple[int, str] | None:
    """The embedded worker's next job: the oldest due one, of any tenant."""
    found = conn.execute(
        select(_J.tenant_id, _J.key)
        .where(_J.status == "todo", _J.run_at <= now)
        .order_by(_J.run_at, _J.enqueued_at, _J.tenant_id, _J.key)
        .limit(1)
    ).first()
    return None if found is None else (int(found[0]), str(found[1]))


def next_run_at(conn: Connection) -> datetime | None:
    """When the next queued job may run (the embedded worker sleeps until then)."""
    found: datetime | None = conn.scalar(
        select(_J.run_at).where(_J.status == "todo").order_by(_J.run_at).limit(1)
    )
    return found


def take_back_interrupted(conn: Connection) -> int:
    """Put back to ``todo`` the jobs an embedded worker left ``doing`` when it was
    killed (on SQLite only one worker runs, so none of them is still running)."""
    result = conn.execute(update(QueuedJobRow).where(_J.status == "doing").values(status="todo"))
    return int(result.rowcount or 0)


__all__ = [
    "QUEUE",
    "QueuedJobRow",
    "enqueue",
    "finish",
    "get",
    "hand_over",
    "next_due",
    "next_run_at",
    "procrastinate_installed",
    "start",
    "take_back_interrupted",
    "task_name",
    "tenant_lock",
    "waiting",
]
