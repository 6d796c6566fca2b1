"""Realistic ingest: LeadKlozer engagements with times into a populated tenant (SQLite).

Run:  python bench/ingest_realistic.py [--contacts 100000] [--history 1000000]
      [--events 1000000]

Builds (see ``search_data.py``) a leadklozer tenant with ``--contacts`` contacts and
``--history`` engagements of history, then, on that populated database in the same run:

- the anchor, the raw floor: the same number of event rows written with the driver's
  ``executemany`` and each event's contact updated (score and version), one
  transaction per batch of 5,000, nothing else;
- ``Tenant.ingest`` of ``--events`` engagements with times (the last hour), spread over
  all the contacts, batches of 5,000.

It prints both rates, their ratio, and the process's peak RSS after each step (the
ingest carries at most 20,000 contact states from batch to batch).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from search_data import ENGAGEMENTS, NOW, TENANT, build

from crmkit import CRM

BATCH = 5000


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def items(contacts: int, events: int, seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = [(c, k) for c, k, _ in ENGAGEMENTS]
    weights = [w for *_, w in ENGAGEMENTS]
    return [
        {
            "id": f"i{n}",
            "contact": rng.randint(1, contacts),
            "kind": "engagement",
            "data": dict(zip(("channel", "kind"), rng.choices(kinds, weights)[0], strict=True)),
            "at": NOW + timedelta(seconds=n * 3600 / events),
        }
        for n in range(events)
    ]


def raw_floor(crm: CRM, stream: list[dict[str, Any]]) -> float:
    """Events per second for the bare rows: the events and their contacts' updates."""
    with crm.db.connect() as conn:
        tenant_id = conn.execute(
            sa.text("SELECT id FROM tenants WHERE name = :n"), {"n": TENANT}
        ).scalar_one()
        seq = int(conn.execute(sa.text("SELECT max(seq) FROM events")).scalar_one() or 0)
    stamp = NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
    start = time.perf_counter()
    for base in range(0, len(stream), BATCH):
        part = stream[base : base + BATCH]
        with crm.db.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO events (tenant_id, id, seq, contact_id, kind, data, occurred_at,"
                " recorded_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'applied')",
                [
                    (
                        tenant_id,
                        "raw" + e["id"],
                        seq + base + i + 1,
                        e["contact"],
                        e["kind"],
                        json.dumps(e["data"]),
                        stamp,
                        stamp,
                    )
                    for i, e in enumerate(part)
                ],
            )
            conn.exec_driver_sql(
                "UPDATE contacts SET score = score + 1, version = version + 1"
                " WHERE tenant_id = ? AND id = ?",
                [(tenant_id, e["contact"]) for e in part],
            )
    return len(stream) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'ingest.db'}"
        build(url, args.contacts, args.history)
        stream = items(args.contacts, args.events)
        print(
            f"SQLite, {args.contacts:,} contacts, {args.history:,} events of history; "
            f"peak RSS after the build {peak_mb():.0f} MB"
        )
        crm = CRM(url, clock=lambda: NOW + timedelta(hours=1))
        floor = raw_floor(crm, stream)
        print(f"  raw floor (anchor)   {floor:>10,.0f} events/s  1.00")
        tenant = crm.tenant(TENANT)
        start = time.perf_counter()
        summary = tenant.ingest(stream, batch_size=BATCH)
        rate = len(stream) / (time.perf_counter() - start)
        print(
            f"  crmkit ingest        {rate:>10,.0f} events/s  {rate / floor:.2f}"
            f"  ({summary.applied:,} applied, {summary.changes:,} changes)"
        )
        print(f"  peak RSS after the ingest {peak_mb():.0f} MB")
        crm.close()


if __name__ == "__main__":
    main()
