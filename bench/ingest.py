"""Ingest benchmark: bare durable_rules vs crmkit end-to-end on SQLite and PostgreSQL.

Run:  python bench/ingest.py [--events 50000] [--contacts 2000]

Every figure is printed with its ratio to bare durable_rules measured in the same run
(the machines are shared and noisy, so only ratios are comparable between runs); each is
the best of --repeat runs (default 3).
PostgreSQL runs when CRMKIT_BENCH_POSTGRES_URL or CRMKIT_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import multiprocessing
import random
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_urls import postgres_url

from crmkit import CRM
from crmkit.rules.engine import default_engine

# Only kinds the 17hats rules react to, so crmkit's kind prefilter skips nothing and
# every event goes through the rule engine, as it does in the bare anchor.
# durable_rules hosts run timer threads that outlive the Python object; a collected
# host crashes the process ("double free"), so every host made here is kept alive.
_HOSTS: list[Any] = []

KINDS = ["lead_form_submitted", "invoice_sent", "quote_accepted", "contract_signed"]


def make_events(n_events: int, n_contacts: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"e{i}",
            "contact": rng.randint(1, n_contacts),
            "kind": rng.choice(KINDS),
            "data": {"n": i},
        }
        for i in range(n_events)
    ]


def _warm(host: Any, name: str) -> None:
    """durable_rules crashes when the first session a ruleset deletes is one in which no
    fact matched (see crmkit/rules/engine.py); one matched session first avoids it."""
    host.assert_fact(name, {"sid": "warm", "id": "warm", "event.kind#s": "lead_form_submitted"})
    host.delete_state(name, "warm")


def bare_durable(crm: CRM, events: list[dict[str, Any]], chunk: int) -> float:
    """The same compiled ruleset in durable_rules, driven the fastest safe way we know:
    assert_fact per event in one session per chunk, then delete_state. Returns events/s."""
    from durable import engine

    pack = crm.packs.resolve("17hats")
    definition = copy.deepcopy(crm.compiled(pack).durable_definition())
    name = f"bare-{uuid.uuid4().hex[:8]}"
    ((_, rules),) = definition.items()
    host = engine.Host()
    _HOSTS.append(host)
    hits = [0]

    def action(c: Any) -> None:
        hits[0] += 1

    for rule in rules.values():
        rule["run"] = action
    host.set_rulesets({name: rules})
    _warm(host, name)
    facts = [
        {"event.kind#s": e["kind"], "contact.contact_type#s": "hot_lead" if i % 2 else "other"}
        for i, e in enumerate(events)
    ]
    start = time.perf_counter()
    for base in range(0, len(facts), chunk):
        sid = f"s{base}"
        for i, fact in enumerate(facts[base : base + chunk], start=base):
            message = dict(fact, sid=sid, id=i)
            with contextlib.suppress(engine.MessageNotHandledException):
                host.assert_fact(name, message)
        host.delete_state(name, sid)
    elapsed = time.perf_counter() - start
    assert hits[0] > 0
    return len(facts) / elapsed


def bare_durable_per_event(crm: CRM, events: list[dict[str, Any]]) -> float:
    """durable_rules used the plain way DESIGN.md measured: post, then delete_state, per
    event (post fires only the first matching rule; fine for this ruleset)."""
    from durable import engine

    pack = crm.packs.resolve("17hats")
    definition = copy.deepcopy(crm.compiled(pack).durable_definition())
    name = f"plain-{uuid.uuid4().hex[:8]}"
    ((_, rules),) = definition.items()
    host = engine.Host()
    _HOSTS.append(host)
    for rule in rules.values():
        rule["run"] = lambda c: None
    host.set_rulesets({name: rules})
    _warm(host, name)
    start = time.perf_counter()
    for i, e in enumerate(events):
        sid = f"p{i}"
        message = {
            "sid": sid,
            "id": i,
            "event.kind#s": e["kind"],
            "contact.contact_type#s": "hot_lead" if i % 2 else "other",
        }
        with contextlib.suppress(engine.MessageNotHandledException):
            host.post(name, message)
        host.delete_state(name, sid)
    return len(events) / (time.perf_counter() - start)


def crmkit_ingest(
    url: str,
    events: list[dict[str, Any]],
    n_contacts: int,
    batch: int,
    memoize: bool = True,
    backend: str = "durable",
) -> tuple[float, Any]:
    engine = default_engine(memoize=memoize) if backend == "durable" else backend
    crm = CRM(url, engine=engine)
    crm.migrate()
    tenant = crm.configure_tenant(f"bench-{uuid.uuid4().hex[:6]}", ["17hats"])
    for i in range(n_contacts):
        tenant.add_contact({"first_name": f"C{i}", "facets": {"contact_type": "other"}})
    if crm.db.dialect.name == "postgresql":
        # Tables filled a moment ago have no statistics yet, and PostgreSQL then plans
        # the foreign-key checks as sequential scans. A live database has been analysed
        # by autovacuum; do the same here so the run measures the steady state.
        with crm.db.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    start = time.perf_counter()
    summary = tenant.ingest(events, batch_size=batch)
    elapsed = time.perf_counter() - start
    assert summary.applied == len(events), summary
    crm.close()
    return len(events) / elapsed, summary


def raw_sqlite_limit(
    url: str,
    events: list[dict[str, Any]],
    n_contacts: int,
    batch: int,
    contact_updates: bool = True,
) -> float:
    """The database's own limit for the same work: each batch inserts the events rows
    crmkit writes and updates each event's contact row (score and version), through the
    driver's executemany, one transaction per batch. No rules, no Python bookkeeping.

    Without ``contact_updates`` only the event rows are written: the floor under any
    ingest that stores its events, whatever else it does."""
    import json

    crm = CRM(url)
    crm.migrate()
    tenant = crm.configure_tenant("raw", [])
    for i in range(n_contacts):
        tenant.add_contact({"first_name": f"C{i}"})
    with crm.db.connect() as conn:
        tenant_id = tenant.runtime(conn).tenant_id
    now = "2026-01-01 00:00:00.000000"
    batches = []  # built before the clock starts: the limit is the database's
    for base in range(0, len(events), batch):
        part = events[base : base + batch]
        rows = [
            (
                tenant_id,
                e["id"],
                base + i,
                e["contact"],
                e["kind"],
                json.dumps(e["data"]),
                now,
                now,
                "applied",
                None,
                base,
            )
            for i, e in enumerate(part)
        ]
        updates = [(1.0, base + i, tenant_id, e["contact"]) for i, e in enumerate(part)]
        batches.append((rows, updates))
    start = time.perf_counter()
    for rows, updates in batches:
        with crm.db.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO events (tenant_id, id, seq, contact_id, kind, data, occurred_at,"
                " recorded_at, status, error, batch_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            if contact_updates:
                conn.exec_driver_sql(
                    "UPDATE contacts SET score = score + ?, version = ?"
                    " WHERE tenant_id = ? AND id = ?",
                    updates,
                )
    elapsed = time.perf_counter() - start
    crm.close()
    return len(events) / elapsed


def single_event_latency(url: str, samples: int) -> list[float]:
    crm = CRM(url)
    crm.migrate()
    tenant = crm.configure_tenant("latency", ["17hats"])
    contacts = [tenant.add_contact({"first_name": f"L{i}"}).id for i in range(50)]
    timings = []
    for i in range(samples):
        kind = KINDS[i % len(KINDS)]
        start = time.perf_counter()
        tenant.record_event(contacts[i % len(contacts)], kind, {"i": i})
        timings.append((time.perf_counter() - start) * 1000)
    crm.close()
    return timings


def _anchor_per_event(url: str, events: list[dict[str, Any]]) -> float:
    return bare_durable_per_event(CRM(url), events)


def _anchor_batched(url: str, events: list[dict[str, Any]], chunk: int) -> float:
    return bare_durable(CRM(url), events, chunk)


def _ingest_rate(
    url: str,
    events: list[dict[str, Any]],
    contacts: int,
    batch: int,
    memoize: bool = True,
    backend: str = "durable",
) -> tuple[float, int]:
    rate, summary = crmkit_ingest(url, events, contacts, batch, memoize, backend)
    return rate, summary.changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--contacts", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--samples", type=int, default=500, help="single-event samples")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each measurement; the best is shown"
    )
    args = parser.parse_args()
    events = make_events(args.events, args.contacts)

    # Each measurement runs in a fresh process: durable_rules keeps global state, and
    # several hosts in one process have crashed it (heap corruption inside the library).
    # durable_rules itself sometimes segfaults when driven with post + delete_state per
    # event (about one run in two at 50,000 events here); such a run is repeated.
    with tempfile.TemporaryDirectory() as folder:

        def run(function: Any, *a: Any) -> Any:
            for attempt in range(1, 4):
                with ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                ) as pool:
                    try:
                        return pool.submit(function, *a).result()
                    except BrokenProcessPool:
                        print(
                            f"  ({function.__name__} crashed inside durable_rules, run {attempt})"
                        )
            raise RuntimeError(f"{function.__name__} crashed three times")

        def best(function: Any, name: str, *a: Any) -> Any:
            """The fastest of ``--repeat`` runs, each on a new SQLite file: the disk of a
            shared machine stalls now and then, and a stall is not the code's speed."""
            runs = [
                run(function, f"sqlite:///{Path(folder) / f'{name}{k}.db'}", *a)
                for k in range(args.repeat)
            ]
            return max(runs, key=lambda r: r[0] if isinstance(r, tuple) else r)

        plain = best(_anchor_per_event, "anchor", events)
        bare = best(_anchor_batched, "anchor", events, args.batch)
        sqlite_rate, changes = best(_ingest_rate, "bench", events, args.contacts, args.batch)
        unmemoized, _ = best(_ingest_rate, "bench2", events, args.contacts, args.batch, False)
        compiled, _ = best(
            _ingest_rate, "bench3", events, args.contacts, args.batch, True, "compiled"
        )
        raw = best(raw_sqlite_limit, "raw", events, args.contacts, args.batch)
        rows_only = best(raw_sqlite_limit, "rows", events, args.contacts, args.batch, False)
        latency = run(
            single_event_latency, f"sqlite:///{Path(folder) / 'latency.db'}", args.samples
        )
        pg_rate = None
        pg = postgres_url()
        if pg:
            admin = sa.create_engine(pg)
            rates = []
            for _ in range(args.repeat):
                schema = f"crmkit_bench_{uuid.uuid4().hex[:8]}"
                with admin.begin() as conn:
                    conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
                try:
                    url = sa.make_url(pg).update_query_dict({"options": f"-csearch_path={schema}"})
                    rate, _ = run(
                        _ingest_rate,
                        url.render_as_string(hide_password=False),
                        events,
                        args.contacts,
                        args.batch,
                    )
                    rates.append(rate)
                finally:
                    with admin.begin() as conn:
                        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            pg_rate = max(rates)

    print(f"{args.events} events over {args.contacts} contacts, 17hats ruleset, batch {args.batch}")
    print(f"  changes made by crmkit: {changes}")
    print(f"{'run':<34}{'events/s':>12}{'ratio':>9}")
    print(
        f"{'bare durable_rules (anchor)':<34}{bare:>12,.0f}{1.0:>9.2f}"
        "  assert_fact, one session per batch"
    )
    print(
        f"{'bare durable_rules, per event':<34}{plain:>12,.0f}{plain / bare:>9.2f}"
        "  post + delete_state each event"
    )
    ratio = sqlite_rate / bare
    print(f"{'crmkit ingest, SQLite file':<34}{sqlite_rate:>12,.0f}{ratio:>9.2f}  (target >= 0.70)")
    print(f"{'  same, without match memoization':<34}{unmemoized:>12,.0f}{unmemoized / bare:>9.2f}")
    print(
        f"{'  same, compiled backend':<34}{compiled:>12,.0f}{compiled / bare:>9.2f}"
        f"  ({compiled / raw:.2f}x the raw SQLite limit; target >= 0.30 and >= 100,000/s)"
    )
    print(
        f"{'raw SQLite limit (executemany)':<34}{raw:>12,.0f}{raw / bare:>9.2f}"
        "  the same event rows and contact updates, no rules"
    )
    print(
        f"{'raw SQLite, event rows only':<34}{rows_only:>12,.0f}{rows_only / bare:>9.2f}"
        "  the floor: storing the events and nothing else"
    )
    if pg_rate is not None:
        print(f"{'crmkit ingest, PostgreSQL':<34}{pg_rate:>12,.0f}{pg_rate / bare:>9.2f}")
    else:
        print("crmkit ingest, PostgreSQL: skipped (set CRMKIT_BENCH_POSTGRES_URL)")
    p50 = statistics.median(latency)
    p95 = statistics.quantiles(latency, n=20)[18]
    anchor_ms = 1000 / bare
    print(
        f"single event, Python API, SQLite: p50 {p50:.2f} ms, p95 {p95:.2f} ms (target p50 <= 3 ms;"
        f" {p50 / anchor_ms:.0f}x one bare durable_rules match of {anchor_ms * 1000:.0f} us)"
    )


if __name__ == "__main__":
    main()
