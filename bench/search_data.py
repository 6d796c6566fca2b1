"""A large leadklozer tenant for the Smart Search benchmark, loaded with the driver.

``build(url, contacts, events)`` creates the schema with crmkit's migrations, a tenant
``bench`` using the leadklozer pack, then loads contacts (with their ``status`` and
``top_10`` facet rows, the ``engaged`` tag and a Smart Score equal to what crmkit
recomputes at :data:`NOW`) and engagement events spread over the year before
:data:`NOW`. Rows go in with the bare driver (``executemany`` on SQLite, ``COPY`` on
PostgreSQL): going through crmkit's rules would take hours at this size and is measured
by ``bench/ingest.py`` instead. Everything is drawn from a seeded generator, so a run
gives the same data every time.
"""

from __future__ import annotations

import json
import random
from array import array
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from crmkit_leadklozer.scoring import scoring

from crmkit import CRM
from crmkit.storage import counters

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
TENANT = "bench"
YEAR_SECONDS = 365 * 86400

# (channel, kind, weight in percent of engagements)
ENGAGEMENTS = [
    ("facebook", "comment", 8),
    ("facebook", "like", 12),
    ("facebook", "message", 4),
    ("facebook", "share", 2),
    ("facebook", "ad_click", 4),
    ("instagram", "comment", 4),
    ("instagram", "like", 6),
    ("email", "open", 12),
    ("email", "click", 5),
    ("email", "reply", 3),
    ("sms", "reply", 5),
    ("phone", "call", 8),
    ("phone", "voicemail", 2),
    ("web", "visit", 17),
    ("web", "form", 5),
    ("web", "trial_signup", 3),
]
STATUSES = [("new", 8), ("neutral", 47), ("warm", 15), ("hot", 10), ("cold", 20)]
FIRST = ["Ada", "Bob", "Cleo", "Dan", "Eve", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kim", "Lee"]
LAST = ["Lovelace", "Marley", "Nash", "Okafor", "Patel", "Quinn", "Rossi", "Sato", "Tran"]
CITIES = ["Leeds", "York", "Bath", "Derry", "Cork", "Lyon", "Porto", "Graz"]


def _sqlite_time(moment: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC), so comparisons match.
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _pg_time(moment: datetime) -> str:
    return moment.isoformat()


class Generated:
    """The tenant's rows, drawn up front into compact arrays (about 100 MB for ten
    million events), so scores are known before the contacts are written."""

    def __init__(self, contacts: int, events: int, seed: int) -> None:
        self.contacts = contacts
        self.events = events
        self.rng = rng = random.Random(seed)
        table = scoring()
        self.kinds = [(c, k) for c, k, _ in ENGAGEMENTS]
        self.payloads = [json.dumps({"channel": c, "kind": k}) for c, k in self.kinds]
        # Times sorted, so the log's order (seq) is the order things happened.
        self.offsets = array("l", sorted(rng.randrange(YEAR_SECONDS) for _ in range(events)))
        self.owners = array("l", (rng.randint(1, contacts) for _ in range(events)))
        self.kind_of = array(
            "b",
            rng.choices(range(len(self.kinds)), weights=[w for *_, w in ENGAGEMENTS], k=events),
        )
        # Points and aging per kind, worked out once; the sum is crmkit's recomputation.
        worth = [
            (table.points({"channel": c, "kind": k}), table.aging_of({"channel": c, "kind": k}))
            for c, k in self.kinds
        ]
        self.scores = [0.0] * (contacts + 1)
        self.engaged = bytearray(contacts + 1)
        for seq in range(events):
            contact = self.owners[seq]
            points, aging = worth[self.kind_of[seq]]
            age_days = (YEAR_SECONDS - self.offsets[seq]) / 86400
            self.scores[contact] += points * aging.weight(age_days)
            self.engaged[contact] = 1
        names = [s for s, _ in STATUSES]
        self.status = ["", *rng.choices(names, weights=[w for _, w in STATUSES], k=contacts)]
        for cid in range(1, contacts + 1):
            self.scores[cid] += table.status_points(self.status[cid])

    def event_rows(self, chunk: int) -> Iterator[list[tuple[int, int, int, datetime]]]:
        """(seq, contact id, kind index, time) in seq order, in chunks."""
        start = NOW - timedelta(seconds=YEAR_SECONDS)
        for first in range(0, self.events, chunk):
            yield [
                (
                    seq + 1,
                    self.owners[seq],
                    self.kind_of[seq],
                    start + timedelta(seconds=self.offsets[seq]),
                )
                for seq in range(first, min(first + chunk, self.events))
            ]


def build(url: str, contacts: int, events: int, seed: int = 11) -> None:
    """Create the ``bench`` tenant at ``url`` (whose schema must be empty) and load it."""
    crm = CRM(url, clock=lambda: NOW)
    crm.migrate()
    crm.configure_tenant(TENANT, ["leadklozer"])
    with crm.db.connect() as conn:
        tenant_id = int(
            conn.execute(
                sa.text("SELECT id FROM tenants WHERE name = :n"), {"n": TENANT}
            ).scalar_one()
        )
    data = Generated(contacts, events, seed)
    raw = crm.db.raw_connection()
    try:
        if crm.db.dialect.name == "sqlite":
            _load_sqlite(raw, tenant_id, data)
        else:
            _load_postgres(raw, tenant_id, data)
        raw.commit()
    finally:
        raw.close()
    with crm.db.begin() as conn:
        counters.allocate(conn, tenant_id, "contact", contacts)
        counters.allocate(conn, tenant_id, "event", events)
        # Fresh statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` would give.
        conn.exec_driver_sql("ANALYZE")
    crm.db.dispose()


def _contact_rows(
    tenant_id: int, data: Generated, fmt: Any
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """(contacts, facets, tags) rows in chunks."""
    rng = data.rng
    created = fmt(NOW - timedelta(days=400))
    chunk = 50_000
    for first in range(1, data.contacts + 1, chunk):
        people, facets, tags = [], [], []
        for cid in range(first, min(first + chunk, data.contacts + 1)):
            status = data.status[cid]
            score = data.scores[cid]
            given, family = rng.choice(FIRST), rng.choice(LAST)
            people.append(
                (
                    tenant_id,
                    cid,
                    given,
                    family,
                    f"{given.lower()}.{cid}@example.com",
                    rng.choice(CITIES),
                    score,
                    created,
                )
            )
            facets.append((tenant_id, cid, "status", status))
            facets.append((tenant_id, cid, "top_10", "no"))
            if data.engaged[cid]:
                tags.append((tenant_id, cid, "engaged"))
        yield people, facets, tags


CONTACT_COLUMNS = "tenant_id, id, first_name, last_name, email, city, score, created_at"


def _load_sqlite(raw: Any, tenant_id: int, data: Generated) -> None:
    cur = raw.cursor()
    cur.execute("PRAGMA cache_size = -1000000")  # 1 GB while loading
    for people, facets, tags in _contact_rows(tenant_id, data, _sqlite_time):
        cur.executemany(
            f"INSERT INTO contacts ({CONTACT_COLUMNS}, fields, archived, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', 0, 0)",
            people,
        )
        cur.executemany(
            "INSERT INTO contact_facets (tenant_id, contact_id, facet, value) VALUES (?, ?, ?, ?)",
            facets,
        )
        cur.executemany(
            "INSERT INTO contact_tags (tenant_id, contact_id, tag) VALUES (?, ?, ?)", tags
        )
    for rows in data.event_rows(100_000):
        cur.executemany(
            "INSERT INTO events (tenant_id, id, seq, contact_id, kind, data, occurred_at,"
            " recorded_at, status) VALUES (?, ?, ?, ?, 'engagement', ?, ?, ?, 'applied')",
            [
                (tenant_id, f"e{seq}", seq, contact, data.payloads[kind], stamp, stamp)
                for seq, contact, kind, at in rows
                for stamp in (_sqlite_time(at),)
            ],
        )


def _load_postgres(raw: Any, tenant_id: int, data: Generated) -> None:
    cur = raw.cursor()
    people_sql = f"COPY contacts ({CONTACT_COLUMNS}, fields, archived, version) FROM STDIN"
    facets_sql = "COPY contact_facets (tenant_id, contact_id, facet, value) FROM STDIN"
    tags_sql = "COPY contact_tags (tenant_id, contact_id, tag) FROM STDIN"
    for people, facets, tags in _contact_rows(tenant_id, data, _pg_time):
        with cur.copy(people_sql) as copy:
            for person in people:
                copy.write_row((*person, "{}", False, 0))
        with cur.copy(facets_sql) as copy:
            for row in facets:
                copy.write_row(row)
        with cur.copy(tags_sql) as copy:
            for row in tags:
                copy.write_row(row)
    with cur.copy(
        "COPY events (tenant_id, id, seq, contact_id, kind, data, occurred_at, recorded_at,"
        " status) FROM STDIN"
    ) as copy:
        for rows in data.event_rows(100_000):
            for seq, contact, kind, at in rows:
                stamp = _pg_time(at)
                copy.write_row(
                    (
                        tenant_id,
                        f"e{seq}",
                        seq,
                        contact,
                        "engagement",
                        data.payloads[kind],
                        stamp,
                        stamp,
                        "applied",
                    )
                )
