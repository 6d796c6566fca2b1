"""Runs a crmkit command and dies (``os._exit``) right after its N-th SQL statement.

Used by test_interrupted_upgrades.py: ``python interrupt.py`` reads one JSON list per
line from stdin, ``[N, crmkit arguments...]``, and answers one line for each:
``<exit status> <statements run by the migration> <statements run in all>`` (the
migration's count is -1 when it did not finish). N = 0 runs the command to its end.
crmkit is imported once and each run is a forked child, so trying every statement of
an upgrade costs no interpreter start-ups; the child dies as a killed process does, its
transaction neither committed nor rolled back.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

import crmkit.core
from crmkit.cli.main import main
from crmkit.conditions.parser import _parser

KILLED = 137


def child(kill_at: int, args: list[str], report: int) -> None:
    """Run ``crmkit args`` in this process, dying after statement ``kill_at``."""
    count = 0
    migrated = -1

    def after_statement(*_: Any) -> None:
        nonlocal count
        count += 1
        if count == kill_at:
            os._exit(KILLED)

    real_upgrade = crmkit.core.upgrade

    def upgrade(engine: sa.Engine, locations: Sequence[str] = ()) -> None:
        nonlocal migrated
        real_upgrade(engine, locations)
        migrated = count

    sa.event.listen(sa.Engine, "after_cursor_execute", after_statement)
    crmkit.core.upgrade = upgrade  # type: ignore[assignment]
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.argv = ["crmkit", *args]
    status = 0
    try:
        main()
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        status = 1
    os.write(report, f"{migrated} {count}".encode())
    os._exit(status)


def run(kill_at: int, args: list[str]) -> str:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        child(kill_at, args, write)
    os.close(write)
    _, wait_status = os.waitpid(pid, 0)
    counts = os.read(read, 100).decode() or "-1 -1"
    os.close(read)
    return f"{os.waitstatus_to_exitcode(wait_status)} {counts}"


if __name__ == "__main__":
    # Built once here, the condition parser is inherited by every child.
    _parser()
    for line in sys.stdin:
        kill_at, *arguments = json.loads(line)
        print(run(kill_at, arguments), flush=True)
