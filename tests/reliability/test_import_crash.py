"""Crash safety of imports: a real ``crmkit import`` killed with SIGKILL mid-run and run
again ends in the state of one uninterrupted import (no row imported twice, even rows
without a match key, no event lost), and its worker processes die with it."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import crmkit_command

from crmkit import CRM

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

PACKS = ["contacts", "17hats"]
ROWS = 20_000
BATCH = 1000
KILLS = 3
HEADER = ["First name", "Last name", "Email", "Company", "Tags", "Lead status"]
STATUSES = ["", "new", "contacted", "qualified"]


def write_contacts(path: Path, rows: int) -> None:
    """A third of the rows have no email (no match key); some emails repeat, a few are
    bad, and there are blank rows."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for n in range(rows):
            if n % 997 == 0:
                writer.writerow([""] * len(HEADER))
                continue
            email = "" if n % 3 == 0 else f"p{n % 15_000}@example{n % 7}.com"
            if n % 1009 == 0:
                email = "not-an-email"
            writer.writerow(
                [
                    f"P{n}",
                    f"L{n % 50}",
                    email,
                    f"Company {n % 300}",
                    "vip" if n % 11 == 0 else "",
                    STATUSES[n % 4],
                ]
            )


def start_import(db_url: str, tenant: str, file: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *crmkit_command(),
            *("--db", db_url, "--tenant", tenant, "import", str(file)),
            *("--batch-size", str(BATCH), "--no-progress", "--json", *extra),
            # Whole rows refused for a bad email, as before cells could be left out: the
            # failures then count in the summary that both runs must agree on.
            "--strict",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def tenant_id(crm: CRM, name: str) -> int:
    with crm.db.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT id FROM tenants WHERE name = :n"), {"n": name}
            ).scalar_one()
        )


def committed_row(crm: CRM, tenant: int) -> int:
    """The last file row the tenant's import journal says is committed."""
    with crm.db.connect() as conn:
        value = conn.execute(
            sa.text("SELECT max(last_row) FROM import_runs WHERE tenant_id = :t"), {"t": tenant}
        ).scalar()
    return int(value or 0)


def state_of(crm: CRM, tenant: int) -> dict[str, Any]:
    """Everything an import with --fire-rules writes, without the times it wrote it."""
    queries = {
        "contacts": "SELECT id, first_name, last_name, email, account_id, version, fields "
        "FROM contacts WHERE tenant_id = :t ORDER BY id",
        "accounts": "SELECT id, name FROM accounts WHERE tenant_id = :t ORDER BY id",
        "facets": "SELECT contact_id, facet, value FROM contact_facets WHERE tenant_id = :t "
        "ORDER BY contact_id, facet",
        "tags": "SELECT contact_id, tag FROM contact_tags WHERE tenant_id = :t "
        "ORDER BY contact_id, tag",
        "events": "SELECT id, seq, contact_id, kind, status FROM events WHERE tenant_id = :t "
        "ORDER BY seq",
        "transitions": "SELECT contact_id, version, target, name, old, new, cause_type "
        "FROM transitions WHERE tenant_id = :t ORDER BY contact_id, version",
    }
    with crm.db.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(sa.text(query), {"t": tenant})]
            for name, query in queries.items()
        }


def finish(run: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = run.communicate(timeout=900)
    assert run.returncode == 1, err  # the bad emails are failures
    summary: dict[str, Any] = json.loads(out)
    return summary


def test_an_import_killed_mid_run_and_rerun_equals_an_uninterrupted_one(
    db_url: str, tmp_path: Path
) -> None:
    crm = CRM(db_url)
    crm.migrate()
    for name in ("steady", "crashy"):
        crm.configure_tenant(name, PACKS)
    crashy = tenant_id(crm, "crashy")
    file = tmp_path / "contacts.csv"
    write_contacts(file, ROWS)

    expected = finish(start_import(db_url, "steady", file, "--fire-rules"))
    assert expected["created"] > ROWS // 2 and expected["events"]["total"] > ROWS // 2

    kills = []
    for kill in range(KILLS):
        # Each time a little further: after two more batches were committed.
        target = committed_row(crm, crashy) + 2 * BATCH
        run = start_import(db_url, "crashy", file, "--fire-rules")
        deadline = time.monotonic() + 600
        while committed_row(crm, crashy) < target and run.poll() is None:
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.02)
        if run.poll() is not None:
            pytest.fail(f"the import finished before kill {kill + 1}; make the file larger")
        os.kill(run.pid, signal.SIGKILL)
        run.communicate(timeout=60)
        assert run.returncode == -signal.SIGKILL
        kills.append(committed_row(crm, crashy))
    assert kills == sorted(kills) and kills[-1] < ROWS, kills

    done = finish(start_import(db_url, "crashy", file, "--fire-rules"))
    assert done["resumed_after_row"] == kills[-1]
    assert state_of(crm, crashy) == state_of(crm, tenant_id(crm, "steady"))
    keys = ("rows", "created", "updated", "skipped", "failed")
    assert {k: done[k] for k in keys} == {k: expected[k] for k in keys}

    again = start_import(db_url, "crashy", file, "--fire-rules")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert json.loads(out)["already_imported"] is True
    crm.close()


# ---------------------------------------------------------------- worker processes
def _processes() -> dict[int, tuple[int, str]]:
    """pid: (parent pid, state) of every process, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (int(fields[1]), fields[0])
    return found


def descendants(pid: int) -> set[int]:
    table = _processes()
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, (parent, _) in table.items() if parent in frontier}
        out |= frontier
    return out


def alive(pids: set[int]) -> set[int]:
    """The pids still running (a zombie has ended; it only waits to be reaped)."""
    table = _processes()
    return {pid for pid in pids if pid in table and table[pid][1] != "Z"}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_workers_of_a_killed_import_end_with_it(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'crm.db'}"
    crm = CRM(db_url)
    crm.migrate()
    crm.configure_tenant("t", PACKS)
    file = tmp_path / "contacts.csv"
    write_contacts(file, 60_000)
    run = start_import(db_url, "t", file, "--workers", "2")
    deadline = time.monotonic() + 300
    children: set[int] = set()
    # Mid-run: both workers started and a batch written.
    while run.poll() is None and (len(children) < 2 or not committed_row(crm, tenant_id(crm, "t"))):
        assert time.monotonic() < deadline, "the import made no progress"
        children = descendants(run.pid)
        time.sleep(0.05)
    if run.poll() is not None:
        pytest.fail("the import finished before it was killed; make the file larger")
    children = descendants(run.pid)
    os.kill(run.pid, signal.SIGKILL)
    # wait(), not communicate(): a surviving worker would hold the output pipes open.
    run.wait(timeout=60)
    survivors = alive(children)
    deadline = time.monotonic() + 5
    while survivors and time.monotonic() < deadline:
        time.sleep(0.1)
        survivors = alive(children)
    for pipe in (run.stdout, run.stderr):
        if pipe is not None:
            pipe.close()
    assert not survivors, f"{len(survivors)} of {len(children)} children outlived the import"
    crm.close()


WATCHED_CHILD = """
import os, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
print(grandchild.pid, flush=True)
time.sleep(600)
"""
# Only the watchdog, without prctl: what guards the workers where prctl is missing.
WATCHDOG = """
import sys
from crmkit.transfer.importer import _watch_parent
print("watching", flush=True)
_watch_parent(int(sys.argv[1]), 0.05)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_parent_watchdog_ends_a_worker_whose_parent_was_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", WATCHED_CHILD, WATCHDOG], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert parent.stdout.readline().strip() == "watching"
    assert alive({worker}) == {worker}
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=60)
    parent.stdout.close()
    deadline = time.monotonic() + 5
    while alive({worker}) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive({worker}), "the watched process outlived its parent"
