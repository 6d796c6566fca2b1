"""One writer process of the concurrent-writers test (run as a script, not collected).

Usage: python writer.py DATABASE_URL TENANT PLAN_FILE MODE

Records the events listed in PLAN_FILE (a JSON list of {id, contact, kind, data}) in
order, one by one (MODE ``record``) or in small batches (MODE ``ingest``). Exits 0 when
every event applied; anything else (a deadlock or serialization failure that reached
this caller, a lost event) is printed and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from crmkit import CRM


def main(url: str, tenant_name: str, plan_file: str, mode: str) -> int:
    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    crm = CRM(url)
    try:
        tenant = crm.tenant(tenant_name)
        if mode == "record":
            for item in plan:
                tenant.record_event(item["contact"], item["kind"], item["data"], id=item["id"])
            return 0
        summary = tenant.ingest(plan, batch_size=25)
        if summary.applied != len(plan):
            print(f"ingest applied {summary.applied} of {len(plan)}: {summary.errors}")
            return 1
        return 0
    finally:
        crm.close()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
