"""Many tenants in one process: memory and idle CPU.

Run:  python bench/tenants.py [--tenants 10000] [--engine compiled|durable]

Every tenant uses the same three pack versions (17hats, funnel, contacts), gets one
contact and records one event, so its runtime is built and cached. Prints the process's
peak memory (the anchor: the same process before any tenant exists) and the CPU it uses
over ten idle seconds afterwards.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from crmkit import CRM

PACKS = ["17hats", "funnel", "contacts"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--engine", default="compiled")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        crm = CRM(f"sqlite:///{Path(folder) / 'crm.db'}", engine=args.engine)
        crm.migrate()
        anchor = peak_mb()
        started = time.perf_counter()
        for i in range(args.tenants):
            tenant = crm.configure_tenant(f"t{i}", PACKS)
            contact = tenant.add_contact({"first_name": "Ada"})
            tenant.record_event(contact.id, "lead_form_submitted")
        built = time.perf_counter() - started
        peak = peak_mb()
        cpu = time.process_time()
        time.sleep(10)
        idle = time.process_time() - cpu
        crm.close()
    print(f"{args.tenants:,} tenants on {', '.join(PACKS)} ({args.engine} backend)")
    print(f"set up and one event each: {built:.1f} s")
    print(f"peak memory: {peak:.0f} MB (before any tenant: {anchor:.0f} MB; {peak / anchor:.2f}x)")
    print(f"CPU over 10 idle seconds: {idle * 1000:.0f} ms")


if __name__ == "__main__":
    main()
