"""Smart Search benchmark: the leadklozer example searches and the Top 10% at scale.

Run:  python bench/search.py [--contacts 1000000] [--events 10000000] [--keep DIR]

Builds (see ``search_data.py``) a tenant with 1,000,000 contacts and 10,000,000
engagement events on SQLite, and on PostgreSQL when CRMKIT_BENCH_POSTGRES_URL or
CRMKIT_TEST_POSTGRES_URL is set. For each example search it times crmkit's
``Tenant.list_contacts(expression, limit=PAGE)`` (parse, compile to SQL, run, load the
page's contacts with their facets and tags) against the same search written by hand in
SQL on the bare driver in the same process (the anchor: one query for the page's contact
rows, then their facets and tags, the same data crmkit returns), and prints both p50s
and their ratio. It checks that both return the same contacts. Then it times the Top 10%
recomputation (``refresh_top_ten``: rank, then record each change as a transition)
against a hand-written ranking query. ``--keep DIR`` keeps the generated databases
(SQLite files in DIR, a PostgreSQL schema) and reuses them on the next run.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_urls import postgres_url
from crmkit_leadklozer.ranking import refresh_top_ten
from search_data import NOW, TENANT, build

from crmkit import CRM

PAGE = 100
RUNS = 21

# The reference's examples: (label, crmkit expression, by hand: the status test and the
# engagement test). In the SQL, {channel} and {kind} are the JSON lookups of the database.
SEARCHES: list[tuple[str, str, str, str]] = [
    (
        "new, Facebook, last 14 days",
        "contact.status == new and engaged(event.data.channel == facebook) within 14 days",
        "s.value = 'new'",
        "e.kind = 'engagement' AND e.occurred_at >= :d14 AND e.occurred_at <= :now"
        " AND {channel} = 'facebook'",
    ),
    (
        "hot/warm, free trial",
        "contact.status in [hot, warm] and engaged(event.data.kind == trial_signup)",
        "s.value IN ('hot', 'warm')",
        "e.kind = 'engagement' AND {kind} = 'trial_signup'",
    ),
    (
        "hot/warm, phone call, 30 days",
        "contact.status in [hot, warm] and engaged(event.data.channel == phone "
        "and event.data.kind == call) within 30 days",
        "s.value IN ('hot', 'warm')",
        "e.kind = 'engagement' AND e.occurred_at >= :d30 AND e.occurred_at <= :now"
        " AND {channel} = 'phone' AND {kind} = 'call'",
    ),
    (
        "neutral, Facebook comment, 7 days",
        "contact.status == neutral and engaged(event.data.channel == facebook "
        "and event.data.kind == comment) within 7 days",
        "s.value = 'neutral'",
        "e.kind = 'engagement' AND e.occurred_at >= :d7 AND e.occurred_at <= :now"
        " AND {channel} = 'facebook' AND {kind} = 'comment'",
    ),
    (
        "not cold, engaged in 90 days",
        "contact.status != cold and engaged within 90 days",
        "s.value <> 'cold'",
        "e.kind = 'engagement' AND e.occurred_at >= :d90 AND e.occurred_at <= :now",
    ),
]

COLUMNS = (
    "c.id, c.first_name, c.last_name, c.email, c.phone, c.city, c.state, c.country,"
    " c.industry, c.lead_source, c.account_id, c.score, c.fields, c.archived, c.created_at"
)
EVENTS = (
    "EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = c.tenant_id AND e.contact_id = c.id"
    " AND e.status = 'applied' AND {test})"
)
# Two ways to write it by hand; the anchor is whichever is faster in the run.
HAND_JOIN = (
    f"SELECT {COLUMNS} FROM contacts c JOIN contact_facets s ON s.tenant_id = c.tenant_id"
    " AND s.contact_id = c.id AND s.facet = 'status'"
    " WHERE c.tenant_id = :tenant AND {status} AND {events} ORDER BY c.id LIMIT {page}"
)
HAND_EXISTS = (
    f"SELECT {COLUMNS} FROM contacts c WHERE c.tenant_id = :tenant AND EXISTS (SELECT 1 FROM"
    " contact_facets s WHERE s.tenant_id = c.tenant_id AND s.contact_id = c.id"
    " AND s.facet = 'status' AND {status}) AND {events} ORDER BY c.id LIMIT {page}"
)

HAND_RANKING = (
    "SELECT id FROM contacts WHERE tenant_id = :tenant AND NOT archived AND score > 0"
    " AND score >= (SELECT score FROM contacts WHERE tenant_id = :tenant AND NOT archived"
    " ORDER BY score DESC LIMIT 1 OFFSET :k - 1)"
)


class Hand:
    """The hand-written searches on the bare driver connection (sqlite3 or psycopg)."""

    def __init__(self, url: str, tenant_id: int) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(sa.make_url(url).database or "")
            json_of = "json_extract(e.data, '$.{}')"
        else:
            import psycopg

            self.conn = psycopg.connect(_libpq(url), autocommit=True)
            json_of = "(e.data ->> '{}')"
        self.json_of = json_of
        self.mark = "?" if self.sqlite else "%s"
        self.tenant_id = tenant_id
        self.params: dict[str, Any] = {"tenant": tenant_id, "now": self._time(NOW)}
        for n in (7, 14, 30, 90):
            self.params[f"d{n}"] = self._time(NOW - timedelta(days=n))

    def _time(self, moment: Any) -> Any:
        if self.sqlite:
            return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    def sql(self, form: str, status: str, events: str) -> str:
        test = events.format(
            channel=self.json_of.format("channel"), kind=self.json_of.format("kind")
        )
        text = form.format(status=status, events=EVENTS.format(test=test), page=PAGE)
        return text if self.sqlite else re.sub(r":(\w+)", r"%(\1)s", text)

    def page(self, sql: str) -> list[dict[str, Any]]:
        """The page as crmkit returns it: each contact's row, facets and tags."""
        cursor = self.conn.execute(sql, self.params)
        names = [d[0] for d in cursor.description]
        people = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
        if not people:
            return []
        ids = list(people)
        marks = ", ".join("?" if self.sqlite else "%s" for _ in ids)
        for person in people.values():
            person["facets"], person["tags"] = {}, []
        facets = self.conn.execute(
            "SELECT contact_id, facet, value FROM contact_facets WHERE tenant_id = "
            f"{self.mark} AND contact_id IN ({marks})",
            [self.tenant_id, *ids],
        )
        for contact_id, facet, value in facets.fetchall():
            people[contact_id]["facets"][facet] = value
        tags = self.conn.execute(
            f"SELECT contact_id, tag FROM contact_tags WHERE tenant_id = {self.mark}"
            f" AND contact_id IN ({marks})",
            [self.tenant_id, *ids],
        )
        for contact_id, tag in tags.fetchall():
            people[contact_id]["tags"].append(tag)
        return list(people.values())

    def ranking(self, k: int) -> int:
        text = HAND_RANKING if self.sqlite else re.sub(r":(\w+)", r"%(\1)s", HAND_RANKING)
        text = text.replace("NOT archived", "archived = 0" if self.sqlite else "NOT archived")
        return len(self.conn.execute(text, {"tenant": self.tenant_id, "k": k}).fetchall())

    def close(self) -> None:
        self.conn.close()


def _libpq(url: str) -> str:
    """A libpq URL (with the schema's search_path) from a SQLAlchemy URL."""
    parsed = sa.make_url(url)
    options = parsed.query.get("options")
    plain = parsed.set(drivername="postgresql", query={})
    text = plain.render_as_string(hide_password=False)
    if options:
        text += "?options=" + str(options).replace(" ", "%20").replace("=", "%3D")
    return text


def timed(function: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """p50 in milliseconds over ``runs`` calls, after two warm-up calls, and a result."""
    result = function()
    function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def run_backend(name: str, url: str, contacts: int, events: int, fresh: bool, tick: bool) -> None:
    if fresh:
        start = time.perf_counter()
        build(url, contacts, events)
        print(
            f"{name}: built {contacts:,} contacts, {events:,} events in "
            f"{time.perf_counter() - start:,.0f} s"
        )
    else:
        print(f"{name}: reusing the kept database")
    crm = CRM(url, clock=lambda: NOW)
    crm.migrate()  # as `crmkit init` does: on PostgreSQL, the search statistics
    tenant = crm.tenant(TENANT)
    with crm.db.connect() as conn:
        tenant_id = tenant.runtime(conn).tenant_id
    hand = Hand(url, tenant_id)
    print(
        f"{'search (page of ' + str(PAGE) + ')':<36}{'crmkit ms':>11}{'by hand ms':>12}"
        f"{'ratio':>8}{'found':>7}"
    )
    try:
        for label, expression, status, events in SEARCHES:
            ours, found = timed(lambda e=expression: tenant.list_contacts(e, limit=PAGE), RUNS)
            forms = [hand.sql(form, status, events) for form in (HAND_JOIN, HAND_EXISTS)]
            anchor, expected = min(
                (timed(lambda s=sql: hand.page(s), RUNS) for sql in forms),
                key=lambda timing: timing[0],
            )
            got = [c.id for c in found]
            if got != [person["id"] for person in expected]:
                raise SystemExit(f"{label}: crmkit found {got[:5]}..., by hand {expected[:5]}...")
            print(f"{label:<36}{ours:>11.1f}{anchor:>12.1f}{ours / anchor:>8.2f}{len(got):>7}")
        top_ten(crm, tenant, hand)
        if tick:
            whole_tick(crm, tenant, hand.tenant_id)
    finally:
        hand.close()
        crm.db.dispose()


def top_ten(crm: CRM, tenant: Any, hand: Hand) -> None:
    """Time the Top 10% recomputation in a transaction that is rolled back, so a kept
    database starts from the same state next time."""
    with crm.db.connect() as conn:
        n = conn.execute(
            sa.text("SELECT count(*) FROM contacts WHERE tenant_id = :t"), {"t": hand.tenant_id}
        ).scalar_one()
    k = max(1, -(-n // 10))
    start = time.perf_counter()
    ranked = hand.ranking(k)
    anchor = time.perf_counter() - start
    with crm.db.connect() as conn:
        transaction = conn.begin()
        runtime = tenant.runtime(conn)
        context = tenant.change_context(conn, runtime, [], now=NOW)
        start = time.perf_counter()
        first = refresh_top_ten(context)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        second = refresh_top_ten(context)
        warm = time.perf_counter() - start
        transaction.rollback()
    print(f"Top 10% by hand (ranking query only, anchor): {anchor:.2f} s, {ranked:,} contacts")
    print(
        f"Top 10% recomputation, from none: {cold:.2f} s ({first:,} changes recorded), "
        f"ratio {cold / anchor:.1f}"
    )
    print(
        f"Top 10% recomputation, unchanged: {warm:.2f} s ({second:,} changes), "
        f"ratio {warm / anchor:.1f}"
    )


def whole_tick(crm: CRM, tenant: Any, tenant_id: int) -> None:
    """Time a whole ``crmkit tick``: every score recomputed from the event log, the Top
    10%, the tick rules. It commits; the Top 10% it set is then undone for the next run."""
    start = time.perf_counter()
    summary = tenant.tick(NOW)
    took = time.perf_counter() - start
    print(f"whole tick: {took:.1f} s ({summary.changes:,} changes: {summary.by_rule})")
    with crm.db.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE contact_facets SET value = 'no' WHERE tenant_id = :t AND facet = 'top_10'"
            ),
            {"t": tenant_id},
        )
        conn.execute(sa.text("DELETE FROM transitions WHERE tenant_id = :t"), {"t": tenant_id})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--keep", metavar="DIR", help="keep the databases and reuse them")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--tick", action="store_true", help="also time a whole tick (minutes at full size)"
    )
    args = parser.parse_args(argv)
    size = f"{args.contacts}_{args.events}"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"search_{size}.db"
        fresh = not (args.keep and path.exists())
        if fresh and path.exists():
            path.unlink()
        run_backend("SQLite", f"sqlite:///{path}", args.contacts, args.events, fresh, args.tick)
        pg = None if args.no_postgres else postgres_url()
        if pg:
            schema = f"crmkit_bench_search_{size}"
            admin = sa.create_engine(pg)
            with admin.begin() as conn:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                    {"s": schema},
                ).first()
                fresh = not (args.keep and exists)
                if fresh:
                    conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                    conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            url = sa.make_url(pg).update_query_dict({"options": f"-csearch_path={schema}"})
            try:
                run_backend(
                    "PostgreSQL",
                    url.render_as_string(hide_password=False),
                    args.contacts,
                    args.events,
                    fresh,
                    args.tick,
                )
            finally:
                if not args.keep:
                    with admin.begin() as conn:
                        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
