"""Workers on PostgreSQL: jobs per second with 1, 2 and 4 worker processes.

Run:  python bench/workers.py [--url postgresql://postgres@127.0.0.1:5432/test]
                              [--tenants 200] [--texts 2] [--processes 1,2,4]

In a scratch schema, ``--tenants`` tenants (clienttether) each get ``--texts`` contacts.
For each process count, that many ``crmkit worker`` processes are started and left to
become idle; then ONE transaction queues, for every tenant, a tick and ``--texts``
scheduled texts due now (the jobs appear at once, at commit). The time until the last
job finished gives crmkit's jobs per second. Two rounds run on the same processes: the
first on new ones (each builds the runtime of every tenant it meets), the second warm.

The anchor, measured in the same run with the same process counts: bare procrastinate
workers running as many no-op jobs, deferred in one transaction under one lock per
"tenant" as crmkit's are. The ratio says what crmkit's work per job costs over the
queue itself.

Then it checks nothing was lost or done twice: every job done in one attempt, every
round's tick run once per tenant (and no tick twice for its moment), one sent message,
one outbox row and one ``action_done`` event per text.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from crmkit import CRM
from crmkit.jobs.postgres import conninfo, install
from crmkit.jobs.tasks import tick_key
from crmkit.storage import counters, job_queue
from crmkit.storage.job_queue import QueuedJobRow
from crmkit.storage.models import (
    EventRow,
    MessageRow,
    ScheduledActionRow,
    SmsOutboxRow,
    TenantRow,
    TickRunRow,
)
from crmkit.storage.scope import TenantScope
from crmkit.testing.databases import driver_url, postgres_schema
from crmkit.upcoming import enqueue_action

ANCHOR_QUEUE = "bench_anchor"


def _crmkit() -> list[str]:
    found = Path(sys.executable).with_name("crmkit")
    return [str(found)] if found.exists() else ["crmkit"]


def _workers_registered(url: str) -> int:
    with psycopg.connect(conninfo(sa.make_url(url))) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
    return int(row[0]) if row else 0


def _wait_registered(url: str, count: int, timeout: float = 300.0) -> None:
    ends = time.monotonic() + timeout
    while _workers_registered(url) < count:
        if time.monotonic() > ends:
            raise SystemExit(f"{count} workers did not start within {timeout:.0f} s")
        time.sleep(0.2)


def _stop(processes: list[Any]) -> None:
    for process in processes:
        if isinstance(process, subprocess.Popen):
            process.send_signal(signal.SIGTERM)
        else:
            process.terminate()
    for process in processes:
        if isinstance(process, subprocess.Popen):
            process.wait(60)
        else:
            process.join(60)


# ------------------------------------------------------------------------- anchor
def _anchor_app(url: str) -> Any:
    import procrastinate

    # It warns that an app built in a __main__ module cannot be found by import path:
    # this one is built by a function in each process, never looked up.
    logging.getLogger("procrastinate").setLevel(logging.ERROR)

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="bench.noop", queue=ANCHOR_QUEUE)
    def noop(n: int) -> None:
        return None

    return app


def _anchor_worker(url: str) -> None:
    _anchor_app(url).run_worker(queues=[ANCHOR_QUEUE], concurrency=1, delete_jobs="never")


def anchor(url: str, jobs: int, tenants: int, processes: int) -> float:
    """Bare procrastinate: ``jobs`` no-op jobs under ``tenants`` locks; jobs per second."""
    info = conninfo(sa.make_url(url))
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_anchor_worker, args=(info,)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        _wait_registered(url, processes)
        app = _anchor_app(info)
        with app.open(), psycopg.connect(info) as conn:
            for n in range(jobs):
                app.configure_task(
                    "bench.noop", queue=ANCHOR_QUEUE, lock=f"anchor-{n % tenants}", connection=conn
                ).defer(n=n)
            conn.commit()
            started = time.perf_counter()
            while True:
                row = conn.execute(
                    "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE queue_name = %s AND status = 'succeeded'",
                    (ANCHOR_QUEUE,),
                ).fetchone()
                conn.commit()
                if row and row[0] >= jobs:
                    break
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            conn.execute("DELETE FROM procrastinate_jobs WHERE queue_name = %s", (ANCHOR_QUEUE,))
            conn.commit()
    finally:
        _stop(workers)
    return jobs / elapsed


# ------------------------------------------------------------------------- crmkit
def setup(crm: CRM, tenants: int, texts: int) -> list[tuple[int, list[int]]]:
    """The tenants and their contacts: (tenant id, contact ids)."""
    found = []
    for n in range(tenants):
        tenant = crm.configure_tenant(f"t{n}", ["clienttether"], {"phone_region": "GB"})
        ids = [
            tenant.add_contact({"first_name": f"C{k}", "phone": f"07911 12{n % 100:02d}{k:02d}"}).id
            for k in range(texts)
        ]
        with crm.db.connect() as conn:
            found.append((tenant.context.runtime(conn).tenant_id, ids))
    install(crm)
    return found


def queue_round(crm: CRM, tenants: list[tuple[int, list[int]]], now: datetime) -> int:
    """One transaction: a tick and the texts of every tenant, due now; jobs queued."""
    queued = 0
    with crm.db.begin() as conn:
        for tenant_id, contacts in tenants:
            scope = TenantScope(tenant_id)
            first = counters.allocate(conn, tenant_id, "action", len(contacts))
            rows = [
                {
                    "id": first + k,
                    "contact_id": contact,
                    "kind": "text",
                    "title": f"Text {first + k}",
                    "due_at": now,
                    "body": f"hello {first + k}",
                    "status": "pending",
                    "actor": "bench",
                    "created_at": now,
                }
                for k, contact in enumerate(contacts)
            ]
            conn.execute(scope.insert(ScheduledActionRow), scope.rows(rows))
            for row in rows:
                queued += enqueue_action(conn, tenant_id, row["id"], now, now)
            queued += job_queue.enqueue(
                conn, tenant_id, "tick", {"at": now.isoformat()},
                key=tick_key(now), run_at=now, now=now,
            )  # fmt: skip
    return queued


def _wait_done(crm: CRM) -> None:
    c = QueuedJobRow.__table__.c
    while True:
        with crm.db.connect() as conn:
            left = conn.scalar(sa.select(sa.func.count()).where(c.status.in_(("todo", "doing"))))
        if not left:
            return
        time.sleep(0.05)


def run_rounds(
    crm: CRM,
    url: str,
    tenants: list[tuple[int, list[int]]],
    processes: int,
    moments: list[datetime],
) -> tuple[float, float]:
    """Jobs per second of two rounds on the same workers: the first on new processes
    (each builds the tenants' runtimes it meets), the second on warm ones."""
    workers = [
        subprocess.Popen(
            [*_crmkit(), "--db", url, "worker", "--tick-every", "3600"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    rates = []
    try:
        _wait_registered(url, processes)
        for _ in range(2):
            # A new second: each round's ticks have their own moment.
            time.sleep(1.1)
            now = datetime.now(timezone.utc).replace(microsecond=0)
            moments.append(now)
            started = time.perf_counter()
            jobs = queue_round(crm, tenants, now)
            _wait_done(crm)
            rates.append(jobs / (time.perf_counter() - started))
    finally:
        _stop(workers)
    return rates[0], rates[1]


def check(crm: CRM, tenants: int, texts: int, moments: list[datetime]) -> list[str]:
    """What was lost or done twice (nothing, when all is well). ``moments``: the rounds'
    ticks (an hourly periodic tick may run besides them, at its own moment)."""
    problems = []
    j, a, m = QueuedJobRow.__table__.c, ScheduledActionRow.__table__.c, MessageRow.__table__.c
    e, t = EventRow.__table__.c, TickRunRow.__table__.c
    with crm.db.connect() as conn:
        jobs = conn.execute(sa.select(j.status, j.attempts)).all()
        actions = conn.scalar(sa.select(sa.func.count()).where(a.status == "done"))
        sent = conn.execute(sa.select(m.tenant_id, m.action_id).where(m.status == "sent")).all()
        outbox = conn.scalar(sa.select(sa.func.count()).select_from(SmsOutboxRow.__table__))
        done = conn.scalar(sa.select(sa.func.count()).where(e.kind == "action_done"))
        ticks = conn.execute(sa.select(t.tenant_id, t.at)).all()
    expected = tenants * texts * len(moments)
    if any(status != "done" for status, _ in jobs):
        problems.append(f"jobs not done: {sum(s != 'done' for s, _ in jobs)}")
    if any(attempts != 1 for _, attempts in jobs):
        problems.append(f"jobs started twice: {sum(n != 1 for _, n in jobs)}")
    if len(jobs) < (tenants + tenants * texts) * len(moments):
        problems.append(f"{len(jobs)} jobs, fewer than the rounds queued")
    if actions != expected or done != expected:
        problems.append(f"actions done {actions}, action_done events {done}, expected {expected}")
    if len(sent) != expected or len(set(sent)) != len(sent) or outbox != expected:
        problems.append(f"{len(sent)} sent messages ({len(set(sent))} actions), {outbox} outbox")
    if len(set(ticks)) != len(ticks):
        problems.append(f"{len(ticks) - len(set(ticks))} ticks ran twice for their moment")
    missing = {(tid, at) for tid, _ in tenants_of(crm) for at in moments} - set(ticks)
    if missing:
        problems.append(f"{len(missing)} round ticks never ran")
    return problems


def tenants_of(crm: CRM) -> list[tuple[int, str]]:
    with crm.db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(TenantRow.id, TenantRow.name))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "CRMKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--texts", type=int, default=2)
    parser.add_argument("--processes", default="1,2,4")
    args = parser.parse_args()
    counts = [int(part) for part in args.processes.split(",")]
    with postgres_schema(driver_url(args.url)) as url:
        crm = CRM(url)
        crm.migrate()
        started = time.perf_counter()
        tenants = setup(crm, args.tenants, args.texts)
        print(f"{args.tenants} tenants, {args.texts} texts each: set up in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        jobs = args.tenants * (1 + args.texts)
        print(f"{jobs} jobs a round (a tick and {args.texts} texts per tenant)")
        print("processes  crmkit jobs/s (new, warm)  no-op jobs/s  ratio (new, warm)")
        moments: list[datetime] = []
        for processes in counts:
            cold, warm = run_rounds(crm, url, tenants, processes, moments)
            bare = anchor(url, jobs, args.tenants, processes)
            print(
                f"{processes:>9}  {cold:>11.1f}  {warm:>11.1f}  {bare:>12.1f}"
                f"  {cold / bare:>7.2f}x {warm / bare:>6.2f}x"
            )
        problems = check(crm, args.tenants, args.texts, moments)
        print("lost or run twice: none" if not problems else "PROBLEMS: " + "; ".join(problems))
        crm.close()
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
