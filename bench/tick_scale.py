"""Tick at scale: what a LeadKlozer tick costs on a large tenant, and how it grows.

Run:  python bench/tick_scale.py [--contacts 100000] [--events 1000000] [--no-postgres]
      [--no-sqlite] [--no-doubling]

Builds (see ``search_data.py``) a leadklozer tenant with history, scored as of
:data:`~search_data.NOW` (as a tick at that moment would leave it), on SQLite and, when
CRMKIT_BENCH_POSTGRES_URL or CRMKIT_TEST_POSTGRES_URL is set, on PostgreSQL. Then, per
database:

- the first tick, which builds the score state from the event log once;
- a tick one hour later (most decay is below the 0.01 step), the same tick again
  (nothing due), and a tick a day later (most scores move);
- for each: the time of the whole tick, of the score refresh and of the Top 10%, and the
  number of contacts whose score changed, with the time per contact changed;
- the anchor: the Top 10% written by hand as one ranking query on the bare driver.

Everything is then run again on a tenant with the same contacts and twice the events:
the time per contact changed should not grow with the log.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import crmkit_leadklozer
import sqlalchemy as sa
from bench_urls import postgres_url
from search_data import NOW, TENANT, build

from crmkit import CRM
from crmkit.storage import counters

ANCHOR_SQL = """
SELECT id FROM contacts
WHERE tenant_id = :t AND archived = :no AND score > 0 AND score >= (
    SELECT score FROM contacts WHERE tenant_id = :t AND archived = :no
    ORDER BY score DESC LIMIT 1 OFFSET :k
)
"""


class Timed:
    """Wraps the pack's two tick steps to time them."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.moved: dict[str, int] = {}
        for name in ("refresh_scores", "refresh_top_ten"):
            setattr(crmkit_leadklozer, name, self._wrap(name, getattr(crmkit_leadklozer, name)))

    def _wrap(self, name: str, step: Callable[[Any], int]) -> Callable[[Any], int]:
        def timed(context: Any) -> int:
            start = time.perf_counter()
            moved = step(context)
            self.spent[name] = time.perf_counter() - start
            self.moved[name] = moved
            return moved

        return timed


def mark_scored(url: str) -> None:
    """Record a tick run at NOW: the generated scores are what a tick then leaves."""
    crm = CRM(url)
    with crm.db.begin() as conn:
        tenant_id = conn.execute(
            sa.text("SELECT id FROM tenants WHERE name = :n"), {"n": TENANT}
        ).scalar_one()
        seq = counters.allocate(conn, tenant_id, "event")
        conn.execute(
            sa.text(
                "INSERT INTO tick_runs (tenant_id, seq, at, recorded_at) VALUES (:t, :s, :a, :a)"
            ),
            {"t": tenant_id, "s": seq, "a": NOW},
        )
    crm.close()


def anchor(crm: CRM, runs: int = 5) -> float:
    """The best of ``runs`` of the hand-written Top 10% ranking query, in seconds."""
    with crm.db.connect() as conn:
        tenant_id = conn.execute(
            sa.text("SELECT id FROM tenants WHERE name = :n"), {"n": TENANT}
        ).scalar_one()
        active = conn.execute(
            sa.text("SELECT count(*) FROM contacts WHERE tenant_id = :t AND archived = :no"),
            {"t": tenant_id, "no": False},
        ).scalar_one()
        k = max(1, -(-active // 10))
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            conn.execute(sa.text(ANCHOR_SQL), {"t": tenant_id, "no": False, "k": k - 1}).all()
            best = min(best, time.perf_counter() - start)
    return best


def run_ticks(label: str, url: str, timed: Timed) -> dict[str, float]:
    moment = [NOW]
    crm = CRM(url, clock=lambda: moment[0])
    tenant = crm.tenant(TENANT)
    base = anchor(crm)
    print(f"{label}: hand-written Top 10% ranking query (anchor) {base * 1000:.1f} ms")
    print(
        f"  {'tick':<34}{'total s':>9}{'score s':>9}{'top10 s':>9}{'moved':>9}"
        f"{'us/moved':>10}{'x anchor':>10}"
    )
    figures: dict[str, float] = {}
    steps: list[tuple[str, datetime]] = [
        ("first: state built from the log", NOW + timedelta(seconds=1)),
        ("one hour later", NOW + timedelta(hours=1, seconds=1)),
        ("again, nothing due", NOW + timedelta(hours=1, seconds=1)),
        ("one day later", NOW + timedelta(days=1, hours=1, seconds=1)),
    ]
    for name, at in steps:
        moment[0] = at
        start = time.perf_counter()
        tenant.tick(at)
        total = time.perf_counter() - start
        moved = timed.moved["refresh_scores"]
        per = timed.spent["refresh_scores"] / moved * 1e6 if moved else float("nan")
        print(
            f"  {name:<34}{total:>9.2f}{timed.spent['refresh_scores']:>9.2f}"
            f"{timed.spent['refresh_top_ten']:>9.2f}{moved:>9,}{per:>10.1f}{total / base:>10.0f}"
        )
        figures[name] = total
        figures[name + " per moved"] = per
        figures[name + " top10 x anchor"] = timed.spent["refresh_top_ten"] / base
    crm.close()
    return figures


@contextlib.contextmanager
def databases(
    folder: Path, size: str, postgres: bool, sqlite: bool = True
) -> Iterator[list[tuple[str, str]]]:
    """A SQLite file and (optionally) a PostgreSQL schema, dropped afterwards."""
    found = [("SQLite", f"sqlite:///{folder / f'tick_{size}.db'}")] if sqlite else []
    pg = postgres_url() if postgres else None
    schema = f"crmkit_bench_tick_{size}"
    admin = sa.create_engine(pg) if pg else None
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.make_url(pg).update_query_dict({"options": f"-csearch_path={schema}"})
        found.append(("PostgreSQL", url.render_as_string(hide_password=False)))
    try:
        yield found
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-doubling", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    timed = Timed()
    sizes = [args.events] if args.no_doubling else [args.events, 2 * args.events]
    results: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for events in sizes:
            size = f"{args.contacts}_{events}"
            with databases(Path(scratch), size, not args.no_postgres, not args.no_sqlite) as found:
                for label, url in found:
                    start = time.perf_counter()
                    build(url, args.contacts, events)
                    mark_scored(url)
                    print(
                        f"\n{label}, {args.contacts:,} contacts, {events:,} events "
                        f"(built in {time.perf_counter() - start:.0f} s)"
                    )
                    results[(label, events)] = run_ticks(label, url, timed)
    if len(sizes) == 2:
        print("\ndoubling the log (same contacts): time per contact changed, one day later")
        for label in ("SQLite", "PostgreSQL"):
            if (label, sizes[0]) in results:
                one = results[(label, sizes[0])]["one day later per moved"]
                two = results[(label, sizes[1])]["one day later per moved"]
                print(f"  {label}: {one:.1f} us -> {two:.1f} us ({two / one:.2f}x)")


if __name__ == "__main__":
    main()
