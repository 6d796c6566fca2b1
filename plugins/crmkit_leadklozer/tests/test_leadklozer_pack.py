"""The leadklozer pack: statuses, Smart Score, Top 10%, and Smart Search."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from crmkit_contacts.segments import SavedSearches
from crmkit_leadklozer.ranking import recompute_scores

from crmkit import CRM, Tenant
from crmkit.errors import ConditionError, PolicyError
from crmkit.storage.scope import TenantScope
from crmkit.testing.support import FrozenClock, snapshot


@pytest.fixture
def lk(crm: CRM) -> Tenant:
    return crm.configure_tenant("lk", ["leadklozer"])


def add(tenant: Tenant, first: str, **facets: str) -> int:
    return tenant.add_contact({"first_name": first, "facets": facets}).id


def engage(tenant: Tenant, contact: int, channel: str, kind: str, **extra: Any) -> None:
    tenant.record_event(contact, "engagement", {"channel": channel, "kind": kind}, **extra)


def status(tenant: Tenant, contact: int) -> str:
    return tenant.get_contact(contact).facets["status"]


def names(contacts: list[Any]) -> list[str]:
    return [c.first_name for c in contacts]


# ------------------------------------------------------------------ statuses
def test_first_engagement_makes_new_and_second_makes_neutral(lk: Tenant) -> None:
    contact = add(lk, "Ada")
    assert status(lk, contact) == "neutral"
    engage(lk, contact, "facebook", "like")
    assert status(lk, contact) == "new"
    engage(lk, contact, "email", "open")
    assert status(lk, contact) == "neutral"
    engage(lk, contact, "email", "open")
    assert status(lk, contact) == "neutral"


def test_statuses_by_hand_and_the_refusals(lk: Tenant) -> None:
    contact = add(lk, "Ada")
    for value in ("hot", "warm", "cold", "neutral"):
        lk.set_facet(contact, "status", value)
        assert status(lk, contact) == value
    before = snapshot(lk.crm)
    with pytest.raises(PolicyError, match="value 'new' of facet 'status' is set by rules only"):
        lk.set_facet(contact, "status", "new")
    with pytest.raises(PolicyError, match="facet 'top_10' is set by rules only"):
        lk.set_facet(contact, "top_10", "yes")
    assert snapshot(lk.crm) == before


# ------------------------------------------------------------------ Smart Score
def test_engagement_points_and_status_changes_move_the_score(lk: Tenant) -> None:
    contact = add(lk, "Ada")
    engage(lk, contact, "web", "trial_signup")  # 25, and status new (+5)
    assert lk.get_contact(contact).score == 30
    engage(lk, contact, "phone", "call")  # 10, and status back to neutral (-5)
    assert lk.get_contact(contact).score == 35
    lk.set_facet(contact, "status", "hot")  # +20
    assert lk.get_contact(contact).score == 55
    causes = [t.cause for t in lk.explain(contact, "score")]
    assert causes[-1] == "manual (api)"


def test_points_decay_or_expire_and_the_tick_stores_the_recomputed_score(
    lk: Tenant, clock: FrozenClock
) -> None:
    liker, caller = add(lk, "Liker"), add(lk, "Caller")
    engage(lk, liker, "facebook", "like")  # 1 point, expires after 30 days
    engage(lk, caller, "phone", "call")  # 10 points, half-life 30 days
    clock.advance(days=30)
    lk.tick()
    assert lk.get_contact(liker).score == pytest.approx(5)  # the like expired; status new
    assert lk.get_contact(caller).score == pytest.approx(10)  # 10 * 0.5 + 5
    clock.advance(days=30)
    lk.tick()
    assert lk.get_contact(caller).score == pytest.approx(7.5)
    with lk.crm.db.connect() as conn:
        fresh = recompute_scores(conn, TenantScope(lk.runtime(conn).tenant_id), clock.now)
    assert fresh == {c.id: c.score for c in lk.list_contacts()}  # exactly
    [aged] = lk.explain(caller, "score")[-1:]
    assert aged.cause == "leadklozer@1.0.0:smart score aging"


def test_a_tick_moving_more_contacts_than_a_chunk_moves_them_all(
    lk: Tenant, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crmkit.applying

    monkeypatch.setattr(crmkit.applying, "ROWS_PER_ROUND", 2)  # five contacts, three rounds
    ids = [add(lk, f"C{i}") for i in range(5)]
    for contact in ids:
        engage(lk, contact, "phone", "call")
    clock.advance(days=30)
    summary = lk.tick()
    assert [c.score for c in lk.list_contacts()] == [pytest.approx(10)] * 5  # 5 aged + 5 new
    assert summary.by_rule["leadklozer@1.0.0:smart score aging"] == 5


# ------------------------------------------------------------------ Top 10%
def test_top_ten_percent_with_ties_and_zero_scores(lk: Tenant) -> None:
    ids = [add(lk, f"C{i:02}") for i in range(20)]
    for i, contact in enumerate(ids[:4]):
        lk.set_facet(contact, "status", "hot" if i < 3 else "warm")  # 20, 20, 20, 10
    lk.tick()
    # n = 20, k = 2: the 2nd highest score is 20, and three contacts tie at it.
    assert names(lk.list_contacts("contact.top_10 == yes")) == ["C00", "C01", "C02"]
    lk.set_facet(ids[0], "status", "cold")
    lk.tick()
    assert names(lk.list_contacts("contact.top_10 == yes")) == ["C01", "C02"]
    assert lk.explain(ids[0], "top_10")[-1].cause == "leadklozer@1.0.0:top 10%"


def test_top_ten_in_a_small_tenant(lk: Tenant) -> None:
    a, b, c = add(lk, "A"), add(lk, "B"), add(lk, "C")
    lk.tick()
    assert lk.list_contacts("contact.top_10 == yes") == []  # nobody scores above zero
    lk.set_facet(b, "status", "warm")
    lk.tick()
    assert [x.id for x in lk.list_contacts("contact.top_10 == yes")] == [b]
    del a, c


# ------------------------------------------------------------------ Smart Search
@pytest.fixture
def audience(lk: Tenant, clock: FrozenClock) -> Tenant:
    people = {
        "Fay": ("facebook", "comment", 3),  # new, engaged on Facebook 3 days ago
        "Finn": ("facebook", "like", 20),  # new, Facebook but 20 days ago
        "Tia": ("web", "trial_signup", 2),  # hot, free trial
        "Will": ("web", "trial_signup", 40),  # warm, free trial long ago
        "Phil": ("phone", "call", 10),  # hot, phone call 10 days ago
        "Pam": ("phone", "call", 45),  # warm, call 45 days ago
        "Ned": ("facebook", "comment", 5),  # neutral, commented 5 days ago
        "Nora": ("facebook", "comment", 9),  # neutral, commented 9 days ago
        "Cole": ("facebook", "comment", 1),  # cold
    }
    start = clock.now
    for first, (channel, kind, days_ago) in people.items():
        contact = add(lk, first)
        engage(lk, contact, channel, kind, at=start - timedelta(days=days_ago))
    for first, value in {
        "Tia": "hot",
        "Will": "warm",
        "Phil": "hot",
        "Pam": "warm",
        "Cole": "cold",
    }.items():
        lk.set_facet(
            next(c.id for c in lk.list_contacts() if c.first_name == first), "status", value
        )
    for first in ("Ned", "Nora"):
        contact = next(c.id for c in lk.list_contacts() if c.first_name == first)
        engage(lk, contact, "email", "open", at=start - timedelta(days=60))  # 2nd: neutral
    return lk


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        (  # all new leads that engaged on Facebook within the last 14 days
            "contact.status == new and engaged(event.data.channel == facebook) within 14 days",
            ["Fay"],
        ),
        (  # hot and warm leads that signed up for a free trial
            "contact.status in [hot, warm] and engaged(event.data.kind == trial_signup)",
            ["Tia", "Will"],
        ),
        (  # hot and warm leads I had a phone call with in the last 30 days
            "contact.status in [hot, warm] and "
            "engaged(event.data.channel == phone and event.data.kind == call) within 30 days",
            ["Phil"],
        ),
        (  # neutral leads that commented on a Facebook ad in the last 7 days
            "contact.status == neutral and engaged(event.data.channel == facebook "
            "and event.data.kind == comment) within 7 days",
            ["Ned"],
        ),
        (  # any search excluding cold contacts
            "contact.status != cold and engaged within 90 days",
            ["Fay", "Finn", "Tia", "Will", "Phil", "Pam", "Ned", "Nora"],
        ),
    ],
)
def test_the_smart_search_examples(audience: Tenant, search: str, expected: list[str]) -> None:
    assert names(audience.list_contacts(search)) == expected
    SavedSearches(audience).save("example", search)
    assert names(SavedSearches(audience).run("example")) == expected


def test_searches_over_score_top_10_tags_and_fields(audience: Tenant) -> None:
    audience.tick()  # Tia 25 aged 2 days + hot 20; Phil 10 aged 10 days + hot 20
    assert names(audience.list_contacts("contact.score >= 25 and contact.tags has engaged")) == [
        "Tia",
        "Phil",
    ]
    assert audience.list_contacts("contact.top_10 == yes")
    assert audience.list_contacts('contact.fields.region == "north"') == []


@pytest.mark.parametrize(
    ("search", "message"),
    [
        (
            "contact.status == new and engaged(event.data.channel == ) within 14 days",
            r"unexpected '\)'",
        ),
        ("engaged(contact.status == hot)", r"only event.kind and event.data.\* apply"),
        ("contact.status == lukewarm", "'lukewarm' is not a value of facet 'status'"),
        ("engaged within 14 fortnights", "unexpected 'fortnights'"),
    ],
)
def test_malformed_searches_point_at_the_problem(
    audience: Tenant, search: str, message: str
) -> None:
    with pytest.raises(ConditionError, match=message) as info:
        audience.list_contacts(search)
    assert info.value.column is not None


@pytest.mark.parametrize(
    "payload",
    [
        "x' OR '1'='1",
        'x"; DROP TABLE contacts; --',
        "facebook') OR 1=1 --",
        "\\' UNION SELECT * FROM tenants --",
    ],
)
def test_search_values_cannot_inject_sql(audience: Tenant, payload: str) -> None:
    from crmkit.filters import quote

    before = snapshot(audience.crm)
    assert audience.list_contacts(f"contact.first_name == {quote(payload)}") == []
    assert (
        audience.list_contacts(f"engaged(event.data.channel == {quote(payload)}) within 30 days")
        == []
    )
    assert snapshot(audience.crm) == before


# ------------------------------------------------------------------ planner statistics
def test_postgres_keeps_statistics_on_the_keys_packs_search(crm: CRM) -> None:
    from sqlalchemy import text

    if crm.db.dialect.name != "postgresql":
        pytest.skip("expression statistics are a PostgreSQL feature")
    query = text(
        "SELECT stxname FROM pg_statistic_ext WHERE stxnamespace ="
        " (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    )
    with crm.db.connect() as conn:
        names = set(conn.scalars(query))
    assert {"crmkit_events_data_channel", "crmkit_events_data_kind"} <= names
    crm.migrate()  # again: nothing to add, no error
    with crm.db.connect() as conn:
        assert set(conn.scalars(query)) == names


def test_a_pack_search_key_must_be_a_plain_name() -> None:
    from crmkit.errors import ConfigError
    from crmkit.packs import Pack

    with pytest.raises(ConfigError, match='search key "channel\'\\) FROM x; --"'):
        Pack(name="bad", version="1.0", search_keys=("channel') FROM x; --",))
