"""Replay benchmark: rebuilding a tenant from its history against recording it.

Run:  python bench/replay.py [--events 50000] [--contacts 2000] [--ticks 5]

A tenant with the 17hats, funnel, contacts and leadklozer packs records events in
ingest batches of 5,000 with ticks in between (the anchor, timed), then
``crmkit.replay.replay`` rebuilds it in a scratch copy and compares every contact. The
figure that matters is the ratio replay / recording measured in the same run (the
machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from crmkit import CRM
from crmkit.clock import MovableClock
from crmkit.replay import replay

KINDS = [
    "lead_form_submitted",
    "invoice_sent",
    "quote_accepted",
    "estimate_requested",
    "meeting_booked",
    "email_sent",
    "engagement",
]
PACKS = ["17hats", "funnel", "contacts", "leadklozer"]


def events(n_events: int, n_contacts: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n_events):
        kind = rng.choice(KINDS)
        data = {"channel": "email", "kind": "reply"} if kind == "engagement" else {}
        contact = rng.randint(1, n_contacts)
        out.append({"id": f"e{i}", "contact": contact, "kind": kind, "data": data})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--contacts", type=int, default=2_000)
    parser.add_argument("--ticks", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        clock = MovableClock()
        crm = CRM(f"sqlite:///{Path(folder) / 'crm.db'}", clock=clock)
        crm.migrate()
        tenant = crm.configure_tenant("bench", PACKS)
        tenant.import_contacts(_contacts_csv(Path(folder), args.contacts), match="none")
        stream = events(args.events, args.contacts)
        part = max(1, len(stream) // (args.ticks + 1))
        started = time.perf_counter()
        for start in range(0, len(stream), part):
            tenant.ingest(stream[start : start + part])
            clock.advance(timedelta(days=1))
            tenant.tick()
        recording = time.perf_counter() - started
        started = time.perf_counter()
        result = replay(tenant)
        replaying = time.perf_counter() - started
        crm.close()
    print(f"{args.events:,} events, {args.contacts:,} contacts, {result.ticks} ticks")
    print(f"recording (anchor): {recording:7.2f} s  {args.events / recording:10,.0f} events/s")
    print(
        f"replay + compare:   {replaying:7.2f} s  {args.events / replaying:10,.0f} events/s"
        f"  ratio {recording / replaying:.2f}x the recording speed"
    )
    print(f"exact: {result.exact} ({len(result.differences)} contacts differ)")


def _contacts_csv(folder: Path, count: int) -> Path:
    path = folder / "contacts.csv"
    lines = ["first_name,last_name,email"]
    lines += [f"P{i},Bench,p{i}@example.com" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    main()
