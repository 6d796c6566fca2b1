"""Concurrent writers on PostgreSQL: several processes record events for the same
contacts at once. Scores add up exactly, each writer's events apply in its order, and
no deadlock or serialization failure reaches a caller."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmkit import CRM
from crmkit.storage.writers import is_retryable, retrying

WRITERS = 4
EVENTS_PER_WRITER = 150
CONTACTS = 6
# LeadKlozer points per engagement (rulesets/leadklozer/scoring.yaml).
ENGAGEMENTS = {
    ("facebook", "comment"): 5,
    ("email", "reply"): 8,
    ("web", "visit"): 1,
    ("phone", "call"): 10,
}

on_postgres = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@on_postgres
def test_writers_on_the_same_contacts_lose_nothing(db_url: str, tmp_path: Path) -> None:
    crm = CRM(db_url)
    crm.migrate()
    tenant = crm.configure_tenant("shop", ["leadklozer"])
    ids = [tenant.add_contact({"first_name": f"C{n}"}).id for n in range(CONTACTS)]
    rng = random.Random(11)
    expected = dict.fromkeys(ids, 0)
    processes = []
    for writer in range(WRITERS):
        plan = []
        for index in range(EVENTS_PER_WRITER):
            contact = rng.choice(ids)
            channel, kind = rng.choice(list(ENGAGEMENTS))
            expected[contact] += ENGAGEMENTS[channel, kind]
            plan.append(
                {
                    "id": f"w{writer}-{index:04d}",
                    "contact": contact,
                    "kind": "engagement",
                    "data": {"channel": channel, "kind": kind},
                }
            )
        plan_file = tmp_path / f"writer{writer}.json"
        plan_file.write_text(json.dumps(plan), encoding="utf-8")
        mode = "ingest" if writer == 0 else "record"
        script = str(Path(__file__).with_name("writer.py"))
        processes.append(
            subprocess.Popen(
                [sys.executable, script, db_url, "shop", str(plan_file), mode],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert [p.returncode for p in processes] == [0] * WRITERS, outputs

    # Every contact got two or more engagements, so its status is neutral (worth 0) and
    # its score is exactly the sum of its points: no addition was lost.
    assert {c.id: c.score for c in tenant.list_contacts()} == expected
    assert {c.facets["status"] for c in tenant.list_contacts()} == {"neutral"}
    with crm.db.connect() as conn:
        events = conn.execute(
            sa.text("SELECT id, contact_id, status FROM events ORDER BY seq")
        ).all()
        transitions = conn.execute(
            sa.text(
                "SELECT contact_id, old, new FROM transitions "
                "WHERE target = 'score' ORDER BY contact_id, version"
            )
        ).all()
    assert len(events) == WRITERS * EVENTS_PER_WRITER
    assert {status for _, _, status in events} == {"applied"}
    # Each writer's events apply in the order it sent them.
    for writer in range(WRITERS):
        mine = [eid for eid, _, _ in events if eid.startswith(f"w{writer}-")]
        assert mine == sorted(mine)
    # Each score change starts where the one before it ended.
    last: dict[int, str] = {}
    for contact, old, new in transitions:
        assert old == last.get(contact, "0"), (contact, old, last.get(contact))
        last[contact] = new
    assert {c: int(float(v)) for c, v in last.items()} == expected
    crm.close()


@on_postgres
def test_a_deadlock_the_database_reports_is_retried_not_raised(db_url: str) -> None:
    """Two transactions lock two rows in opposite orders: PostgreSQL aborts one with a
    deadlock, and ``retrying`` runs it again, so both callers succeed."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE pair (id int PRIMARY KEY, n int)"))
        conn.execute(sa.text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
    both_locked_first = threading.Barrier(2, timeout=30)
    attempts: list[int] = []
    errors: list[BaseException] = []

    def transfer(first: int, second: int) -> None:
        def work() -> None:
            attempts.append(first)
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE pair SET n = n + 1 WHERE id = :i"), {"i": first})
                if len(attempts) <= 2:
                    both_locked_first.wait()
                conn.execute(sa.text("UPDATE pair SET n = n + 1 WHERE id = :i"), {"i": second})

        try:
            retrying(work)
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=transfer, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(attempts) == 3  # one of the two ran twice
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sum(n) FROM pair")).scalar() == 4
    engine.dispose()


def test_only_what_the_database_asks_to_retry_is_retried(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(sa.exc.OperationalError) as caught:
        retrying(broken)
    assert calls == [1]
    assert not is_retryable(caught.value)
    engine.dispose()
