"""Interrupted upgrades: ``crmkit init`` killed anywhere in the schema upgrade, from an
empty database or one of any earlier release with data in it, and then run again, ends
at the newest revision with the schema of a fresh database and exactly the rows of an
uninterrupted run.

Two kinds of kill: ``os._exit`` right after each SQL statement of the upgrade in turn
(deterministic, every point; interrupt.py), and SIGKILL of a real ``crmkit init`` at
random times.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import crmkit_command
from test_upgrades import AT, RELEASES, assert_old_data_works, make_release_database

from crmkit import CRM
from crmkit.storage.db import at_heads, current_heads, make_engine
from crmkit.storage.models import Base
from crmkit.testing.databases import POSTGRES_ENV, postgres_schema

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="fork and SIGKILL are POSIX"),
    # Each test builds the database it interrupts the upgrade of: db_url gives an empty one.
    pytest.mark.empty_database,
]

# None: an empty database, the first `crmkit init` of all.
STARTS: list[str | None] = [None, *RELEASES]
INIT = ["--tenant", "old", "init", "--packs", "17hats,leadklozer"]
RANDOM_KILLS = 1  # per starting point and database
SAMPLED_POINTS = 12  # kill points of each upgrade besides its ends
SEED = int(os.environ.get("CRMKIT_TEST_SEED", "26"))
KILLED = 137


class Interrupter:
    """interrupt.py, started once: runs ``crmkit`` forked, killed after statement N."""

    def __init__(self) -> None:
        script = str(Path(__file__).with_name("interrupt.py"))
        self.process = subprocess.Popen(
            [sys.executable, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, kill_at: int, url: str) -> tuple[int, int, int]:
        """(exit status, statements the migration ran, statements in all)."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps([kill_at, "--db", url, *INIT]) + "\n")
        self.process.stdin.flush()
        status, migrated, total = map(int, self.process.stdout.readline().split())
        return status, migrated, total

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def interrupter() -> Iterator[Interrupter]:
    found = Interrupter()
    yield found
    found.close()


class Databases:
    """Scratch databases of the dialect the test runs on: files, or schemas."""

    def __init__(self, db_url: str, folder: Path) -> None:
        self.sqlite = db_url.startswith("sqlite")
        self.folder = folder
        self.made = 0
        self.templates: dict[str | None, Path] = {}

    @contextmanager
    def at(self, release: str | None) -> Iterator[str]:
        """A URL to a new database of ``release`` with the old rows (empty for None)."""
        if not self.sqlite:
            with postgres_schema(os.environ[POSTGRES_ENV]) as url:
                if release is not None:
                    make_release_database(url, release)
                yield url
            return
        self.made += 1
        path = self.folder / f"db{self.made}.db"
        if release is not None:
            # Built once per release; a closed database is all in its main file.
            template = self.templates.get(release)
            if template is None:
                template = self.templates[release] = self.folder / f"release-{release}.db"
                make_release_database(f"sqlite:///{template}", release)
            shutil.copyfile(template, path)
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in self.folder.glob(f"{path.name}*"):
                leftover.unlink()


@functools.lru_cache(maxsize=1)
def plugin_migrations() -> tuple[str, ...]:
    """The migration folders of the installed plugins' branches (building the CRM
    imports the plugins, whose tables then join Base.metadata)."""
    crm = CRM("sqlite://")
    try:
        return tuple(crm.migration_locations)
    finally:
        crm.close()


def schema_of(url: str) -> dict[str, Any]:
    """Tables with their columns in order, keys, indexes and constraints."""
    engine = make_engine(url)
    try:
        found = sa.inspect(engine)
        return {
            name: {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in found.get_columns(name)
                ],
                "primary key": found.get_pk_constraint(name),
                "foreign keys": sorted(map(repr, found.get_foreign_keys(name))),
                "indexes": sorted(map(repr, found.get_indexes(name))),
                "unique": sorted(map(repr, found.get_unique_constraints(name))),
            }
            for name in sorted(found.get_table_names())
        }
    finally:
        engine.dispose()


def rows_of(url: str) -> dict[str, list[str]]:
    """Every row of every crmkit table; times other than the old rows' are "now"."""

    def shown(value: object) -> object:
        return "<now>" if isinstance(value, datetime) and value != AT else value

    plugin_migrations()  # the packs' tables are crmkit tables too, from the first call on
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: sorted(
                    repr(tuple(shown(v) for v in row)) for row in conn.execute(sa.select(table))
                )
                for name, table in Base.metadata.tables.items()
            }
    finally:
        engine.dispose()


class Expected:
    """What uninterrupted ``crmkit init`` runs from each start leave, computed once."""

    def __init__(self, databases: Databases, interrupter: Interrupter) -> None:
        self.databases = databases
        self.interrupter = interrupter
        self.schema: dict[str, Any] | None = None
        # After one run, and after two: a kill that comes once the first run committed
        # the tenant's configuration leaves the rerun a second `crmkit init`.
        self.rows: dict[str | None, tuple[dict[str, list[str]], dict[str, list[str]]]] = {}
        self.statements: dict[str | None, int] = {}

    def run_uninterrupted(self, release: str | None) -> None:
        with self.databases.at(release) as url:
            status, migrated, _ = self.interrupter.run(0, url)
            assert status == 0 and migrated > 0
            self.statements[release] = migrated
            once = rows_of(url)
            self.schema = self.schema or schema_of(url)
            assert self.interrupter.run(0, url)[0] == 0
            self.rows[release] = (once, rows_of(url))
            if release is not None:
                crm = CRM(url)
                assert_old_data_works(crm)  # the reference itself holds the old data
                crm.close()


def assert_recovered(
    url: str, expected: Expected, release: str | None, where: str, *, done_once: bool = False
) -> None:
    """Run ``crmkit init`` again: it succeeds and leaves what one uninterrupted run does
    (or two, with ``done_once``: the kill may have come after the first had finished)."""
    status, _, _ = expected.interrupter.run(0, url)
    assert status == 0, f"{where}: the second `crmkit init` failed"
    engine = make_engine(url)
    try:
        # The core and every plugin branch (the packs' own tables) at their heads.
        assert at_heads(engine, plugin_migrations()), where
    finally:
        engine.dispose()
    assert schema_of(url) == expected.schema, f"{where}: schema differs from a fresh one"
    once, twice = expected.rows[release]
    rows = rows_of(url)
    assert rows == once or (done_once and rows == twice), f"{where}: rows differ"


@pytest.fixture
def expected(db_url: str, tmp_path: Path, interrupter: Interrupter) -> Expected:
    return Expected(Databases(db_url, tmp_path), interrupter)


def start_name(release: str | None) -> str:
    return release or "empty"


@pytest.mark.parametrize("release", STARTS, ids=start_name)
def test_init_killed_after_any_statement_of_the_upgrade_recovers_on_rerun(
    expected: Expected, release: str | None
) -> None:
    expected.run_uninterrupted(release)
    # The first and last statements of the upgrade, the first after its commit, and a
    # sample of the others drawn from the seed (CRMKIT_TEST_SEED; every statement with
    # CRMKIT_TEST_EVERY_KILL_POINT=1): a kill after each of 390 statements takes a quarter
    # of an hour here, and changing seeds cover them all over runs.
    last = expected.statements[release]
    points = list(range(1, last + 2))
    if os.environ.get("CRMKIT_TEST_EVERY_KILL_POINT") != "1" and last > SAMPLED_POINTS + 2:
        middle = random.Random(f"{SEED} points {release}").sample(range(2, last), SAMPLED_POINTS)
        points = sorted({1, last, last + 1, *middle})
    for kill_at in points:
        where = f"from {start_name(release)}, killed after statement {kill_at}"
        with expected.databases.at(release) as url:
            status, _, _ = expected.interrupter.run(kill_at, url)
            assert status == KILLED, f"{where}: the run ended before it ({status})"
            assert_recovered(url, expected, release, where)
    dialect = "sqlite" if expected.databases.sqlite else "postgresql"
    print(f"kill points tried ({dialect}, from {start_name(release)}): {len(points)}")


@pytest.mark.parametrize("release", STARTS, ids=start_name)
def test_a_real_crmkit_init_killed_at_random_times_recovers_on_rerun(
    expected: Expected, release: str | None
) -> None:
    expected.run_uninterrupted(release)
    rng = random.Random(f"{SEED} {release}")
    with expected.databases.at(release) as url:
        started = time.monotonic()
        subprocess.run([*crmkit_command(), "--db", url, *INIT], check=True, capture_output=True)
        took = time.monotonic() - started
    outcomes = []
    for _ in range(RANDOM_KILLS):
        # Most of a run is Python starting up; the kills fall in its later half.
        delay = rng.uniform(took / 2, took)
        with expected.databases.at(release) as url:
            init = subprocess.Popen(
                [*crmkit_command(), "--db", url, *INIT],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(delay)
            init.send_signal(signal.SIGKILL)
            init.wait(timeout=60)
            engine = make_engine(url)
            try:
                outcomes.append((round(delay, 2), init.returncode, current_heads(engine)))
            finally:
                engine.dispose()
            where = f"SIGKILL after {delay:.2f}s"
            assert_recovered(url, expected, release, where, done_once=True)
    print(f"SIGKILLs from {start_name(release)} (delay s, status, revision): {outcomes}")
