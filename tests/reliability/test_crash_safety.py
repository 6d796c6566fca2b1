"""Crash safety: a real ``crmkit ingest`` killed with SIGKILL mid-run and started again
ends in exactly the state of an uninterrupted run: no event lost, none applied twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import crmkit_command, events_state

from crmkit import CRM

PACKS = ["17hats", "contacts", "leadklozer"]
CONTACTS = 300
EVENTS = 30_000
BATCH = 500
KILLS = 3
KINDS = ["lead_form_submitted", "email_sent", "call_logged", "quote_accepted", "lead_converted"]
ENGAGEMENTS = [("facebook", "comment"), ("email", "reply"), ("web", "visit"), ("phone", "call")]


def write_events(path: Path) -> None:
    rng = random.Random(5)
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8") as out:
        for n in range(EVENTS):
            item: dict[str, Any] = {
                "id": f"e{n:06d}",
                "contact": rng.randint(1, CONTACTS + 3),  # a few unknown contacts fail
                "at": (start + timedelta(seconds=n)).isoformat(),
            }
            if rng.random() < 0.6:
                channel, kind = rng.choice(ENGAGEMENTS)
                item.update(kind="engagement", data={"channel": channel, "kind": kind})
            else:
                item.update(kind=rng.choice(KINDS), data={})
            out.write(json.dumps(item) + "\n")


def ingest(db_url: str, tenant: str, events: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *crmkit_command(),
            *("--db", db_url, "--tenant", tenant, "ingest", str(events)),
            *("--batch-size", str(BATCH), "--no-progress"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored_events(crm: CRM, tenant: str) -> int:
    with crm.db.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM events JOIN tenants t ON t.id = events.tenant_id "
                    "WHERE t.name = :t"
                ),
                {"t": tenant},
            ).scalar_one()
        )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_an_ingest_killed_mid_run_and_restarted_equals_an_uninterrupted_one(
    db_url: str, tmp_path: Path
) -> None:
    crm = CRM(db_url)
    crm.migrate()
    for name in ("steady", "crashy"):
        tenant = crm.configure_tenant(name, PACKS)
        for n in range(CONTACTS):
            tenant.add_contact({"first_name": f"C{n}"})
    events = tmp_path / "events.jsonl"
    write_events(events)

    steady = ingest(db_url, "steady", events)
    out, err = steady.communicate(timeout=900)
    assert steady.returncode == 1, err  # the unknown contacts are failures
    assert f"{EVENTS} events:" in out

    kills = []
    for kill in range(KILLS):
        # Kill at a different point each time: after some more batches have committed.
        target = stored_events(crm, "crashy") + (kill + 1) * 2 * BATCH
        run = ingest(db_url, "crashy", events)
        deadline = time.monotonic() + 600
        while stored_events(crm, "crashy") < target and run.poll() is None:
            assert time.monotonic() < deadline, "the ingest made no progress"
            time.sleep(0.02)
        if run.poll() is not None:
            pytest.fail(f"the ingest finished before kill {kill + 1}; make the file larger")
        os.kill(run.pid, signal.SIGKILL)
        run.communicate(timeout=60)
        assert run.returncode == -signal.SIGKILL
        kills.append(stored_events(crm, "crashy"))
    assert kills == sorted(kills) and kills[-1] < EVENTS, kills

    again = ingest(db_url, "crashy", events)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 1, err
    skipped = int(out.split(" applied, ")[1].split(" skipped")[0])
    assert skipped >= kills[-1] - 3 * BATCH  # what was stored before is not applied again

    assert events_state(crm, "crashy") == events_state(crm, "steady")
    crm.close()
