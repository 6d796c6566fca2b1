"""Upgrades: a database made by an earlier release, with data in it, upgrades to the
current schema with ``crmkit init`` (``CRM.migrate``) and every row survives and works."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from crmkit import CRM
from crmkit.storage.db import _alembic_config, at_heads, current_heads, make_engine
from crmkit.testing.databases import POSTGRES_ENV, postgres_schema

AT = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def earlier_releases() -> list[str]:
    """Every revision but the newest, oldest first: a new migration makes its
    predecessor an earlier release without this list being edited."""
    scripts = ScriptDirectory.from_config(_alembic_config(make_engine("sqlite://")))
    newest_first = [script.revision for script in scripts.walk_revisions()]
    return newest_first[::-1][:-1]


RELEASES = earlier_releases()
# Each test builds an old release's schema itself: db_url gives an empty database.
pytestmark = pytest.mark.empty_database


def old_rows() -> dict[str, list[dict[str, object]]]:
    """What a tenant of the first release held: two contacts, facets, a tag, events and
    the transitions they caused, written as that release wrote them."""
    contact = {"tenant_id": 1, "last_name": "Old", "email": None, "phone": None}
    return {
        "tenants": [
            {
                "id": 1,
                "name": "old",
                "settings": {"noun": "client"},
                "config_version": 1,
                "created_at": AT,
            }
        ],
        "tenant_packs": [
            {"tenant_id": 1, "position": 0, "spec": "17hats"},
            {"tenant_id": 1, "position": 1, "spec": "leadklozer"},
        ],
        "counters": [
            {"tenant_id": 1, "name": "contact", "value": 2},
            {"tenant_id": 1, "name": "event", "value": 2},
        ],
        "contacts": [
            {
                **contact,
                "id": 1,
                "first_name": "Ada",
                "account_id": None,
                "score": 10.0,
                "fields": {"city": "Leeds"},
                "archived": False,
                "version": 3,
                "created_at": AT,
            },
            {
                **contact,
                "id": 2,
                "first_name": "Bo",
                "account_id": None,
                "score": 0.0,
                "fields": {},
                "archived": True,
                "version": 1,
                "created_at": AT,
            },
        ],
        "contact_facets": [
            {"tenant_id": 1, "contact_id": 1, "facet": "contact_type", "value": "hot_lead"},
            {"tenant_id": 1, "contact_id": 1, "facet": "status", "value": "new"},
            {"tenant_id": 1, "contact_id": 2, "facet": "contact_type", "value": "other"},
            {"tenant_id": 1, "contact_id": 2, "facet": "status", "value": "neutral"},
        ],
        "contact_tags": [{"tenant_id": 1, "contact_id": 1, "tag": "engaged"}],
        "events": [
            {
                "tenant_id": 1,
                "id": "e1",
                "seq": 1,
                "contact_id": 1,
                "kind": "lead_form_submitted",
                "data": {},
                "occurred_at": AT,
                "recorded_at": AT,
                "status": "applied",
                "error": None,
            },
            {
                "tenant_id": 1,
                "id": "e2",
                "seq": 2,
                "contact_id": 1,
                "kind": "engagement",
                "data": {"channel": "facebook", "kind": "comment"},
                "occurred_at": AT,
                "recorded_at": AT,
                "status": "applied",
                "error": None,
            },
        ],
        "transitions": [
            {
                "tenant_id": 1,
                "contact_id": 1,
                "version": 2,
                "target": "facet",
                "name": "contact_type",
                "old": "other",
                "new": "hot_lead",
                "cause_type": "rule",
                "pack": "17hats",
                "pack_version": "1.0.0",
                "rule": "a lead form makes a hot lead",
                "actor": None,
                "event_id": "e1",
                "at": AT,
            },
            {
                "tenant_id": 1,
                "contact_id": 1,
                "version": 3,
                "target": "score",
                "name": "score",
                "old": "0",
                "new": "10",
                "cause_type": "rule",
                "pack": "leadklozer",
                "pack_version": "1.0.0",
                "rule": "engagements earn Smart Score points",
                "actor": None,
                "event_id": "e2",
                "at": AT,
            },
        ],
    }


def make_release_database(db_url: str, release: str) -> None:
    """A database of ``release``'s schema holding :func:`old_rows` (the columns of them
    that release had)."""
    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), release)
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.begin() as conn:
        for table, rows in old_rows().items():
            columns = metadata.tables[table].c
            conn.execute(
                metadata.tables[table].insert(),
                [{k: v for k, v in row.items() if k in columns} for row in rows],
            )
    engine.dispose()


@pytest.mark.parametrize("release", RELEASES)
def test_a_database_of_an_earlier_release_upgrades_with_its_data(db_url: str, release: str) -> None:
    make_release_database(db_url, release)
    crm = CRM(db_url)
    crm.migrate()
    assert_old_data_works(crm)
    crm.close()


def assert_old_data_works(crm: CRM) -> None:
    """The upgraded tenant ``old`` has every row :func:`old_rows` gave it, and works."""
    tenant = crm.tenant("old")
    ada = tenant.get_contact(1)
    assert (ada.first_name, ada.score, ada.fields.get("city")) == ("Ada", 10.0, "Leeds")
    assert ada.facets["contact_type"] == "hot_lead" and "engaged" in ada.tags
    assert tenant.get_contact(2).archived
    assert [(t.name, t.new, t.event_id) for t in tenant.explain(1)][-2:] == [
        ("contact_type", "hot_lead", "e1"),
        ("score", "10", "e2"),
    ]
    assert tenant.settings()["noun"] == "client"
    # The upgraded tenant keeps working: an event applies and continues the sequence.
    out = tenant.record_event(1, "engagement", {"channel": "email", "kind": "reply"}, id="e3")
    assert out.status == "applied"
    # 8 points for the reply; the second engagement makes a new contact neutral (-5).
    after = tenant.get_contact(1)
    assert (after.score, after.facets["status"]) == (13.0, "neutral")


def schema_and_heads(crm: CRM) -> tuple[dict[str, object], tuple[str, ...]]:
    """Every table with its columns, keys, indexes and constraints; the version table."""
    found = sa.inspect(crm.db)
    schema = {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(name)],
            found.get_pk_constraint(name),
            sorted(map(repr, found.get_foreign_keys(name))),
            sorted(map(repr, found.get_indexes(name))),
            sorted(map(repr, found.get_unique_constraints(name))),
        )
        for name in sorted(found.get_table_names())
    }
    return schema, current_heads(crm.db)


@contextmanager
def fresh_database(db_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same kind as ``db_url``."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with postgres_schema(os.environ[POSTGRES_ENV]) as url:
        yield url


@pytest.mark.parametrize("release", RELEASES)
def test_an_upgraded_database_has_the_schema_and_branches_of_a_fresh_one(
    db_url: str, tmp_path: Path, release: str
) -> None:
    """The packs' own branches (the funnel's portal tables, the contacts' segments and groups)
    adopt the tables earlier releases' core migrations made: same tables, same heads."""
    make_release_database(db_url, release)
    upgraded = CRM(db_url)
    upgraded.migrate()
    with fresh_database(db_url, tmp_path) as url:
        fresh = CRM(url)
        fresh.migrate()
        expected = schema_and_heads(fresh)
        fresh.close()
    assert {"funnel_0001", "contacts_0002"} <= set(expected[1])
    assert schema_and_heads(upgraded) == expected
    assert at_heads(upgraded.db, upgraded.migration_locations)
    upgraded.close()
