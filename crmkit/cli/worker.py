"""``crmkit worker``: run the job queue's workers (ticks, upcoming actions)."""

from __future__ import annotations

import functools
import logging

import click

from crmkit import core
from crmkit.cli.context import current_context
from crmkit.cli.output import console
from crmkit.jobs import WorkerOptions, run_worker


@click.command()
@click.option(
    "--tick-every",
    type=int,
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between each tenant's ticks (dividing a minute, or whole minutes "
    "dividing an hour).",
)
@click.option(
    "--processes",
    type=int,
    default=1,
    show_default=True,
    help="Worker processes (PostgreSQL; SQLite runs one).",
)
@click.option(
    "--heartbeat",
    type=float,
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between a PostgreSQL worker's heartbeats; one silent for three is "
    "taken for stopped and its jobs run again.",
)
@click.option("--burst", is_flag=True, help="Tick every tenant once, run what is due, then stop.")
def worker(tick_every: int, processes: int, heartbeat: float, burst: bool) -> None:
    """Run workers: every tenant's tick each --tick-every seconds and the upcoming
    actions (texts, emails, plan steps) when due, without cron. On PostgreSQL start as
    many as you like, on any machine; a tenant's jobs run one at a time."""
    # What each job did, one line each; procrastinate's own lines only when they warn.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("crmkit.jobs").setLevel(logging.INFO)
    context = current_context()
    options = WorkerOptions(
        tick_every=tick_every, burst=burst, heartbeat=heartbeat, processes=processes
    )
    make_crm = functools.partial(core.CRM, context.db)
    if not burst:
        console.print(f"crmkit worker: ticking every {tick_every} s; Ctrl-C stops", markup=False)
    try:
        report = run_worker(make_crm, options)
    except KeyboardInterrupt:
        return
    if report.outcomes or report.ticks:
        done = ", ".join(f"{n} {what}" for what, n in sorted(report.outcomes.items()))
        console.print(f"{report.ticks} ticks queued; jobs: {done or 'none'}", markup=False)
