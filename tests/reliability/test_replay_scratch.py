"""A replay killed with SIGKILL leaves no copy of the tenant's contacts behind: its
scratch database lives in memory, never in the temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import FrozenClock

from crmkit import CRM

CONTACTS = 1000

# Runs a replay and stops it once the scratch copy holds every contact, just before
# comparing, until it is killed.
CHILD = """
import sys, time
from pathlib import Path
from crmkit import CRM
from crmkit.replay import runner

def stalled(*args, **kwargs):
    Path(sys.argv[2]).write_text("copied", encoding="utf-8")
    time.sleep(600)

runner.compare = stalled
runner.replay(CRM(sys.argv[1]).tenant("acme"))
"""


def write_contacts(path: Path) -> None:
    lines = ["first_name,last_name,email"]
    lines += [f"Person{n},Test,person{n:05d}@example.com" for n in range(CONTACTS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def files_holding(folder: Path, needle: bytes) -> list[str]:
    return [
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    ]


def test_a_killed_replay_leaves_no_file_with_the_contacts(
    db_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    crm = CRM(db_url, clock=clock)
    crm.migrate()
    tenant = crm.configure_tenant("acme", ["17hats"])
    source = tmp_path / "contacts.csv"
    write_contacts(source)
    assert tenant.import_contacts(source, actor="import").created == CONTACTS
    source.unlink()
    crm.close()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    marker = tmp_path / "copied"
    env = {**os.environ, "TMPDIR": str(scratch), "TEMP": str(scratch), "TMP": str(scratch)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, str(marker)], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the replay did not get to its comparison"
            time.sleep(0.1)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    for n in (0, CONTACTS // 2, CONTACTS - 1):
        assert files_holding(scratch, f"person{n:05d}@example.com".encode()) == []
    assert list(scratch.rglob("*")) == []
