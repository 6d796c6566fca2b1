"""Planner statistics after bulk writes: on PostgreSQL an import analyses the tables it
grows, so its foreign key checks are not planned against tables believed empty."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from test_import import write_csv

from crmkit import CRM

HEADER = ["First name", "Email", "Tags"]


def planner_rows(crm: CRM, table: str) -> float:
    with crm.db.connect() as conn:
        return float(
            conn.execute(
                sa.text(
                    "SELECT reltuples FROM pg_class WHERE relname = :t AND relnamespace = "
                    "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
                ),
                {"t": table},
            ).scalar_one()
        )


def test_an_import_analyses_the_tables_it_grows(crm: CRM, db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite's planner needs no statistics")
    tenant = crm.configure_tenant("t", ["contacts", "17hats"])
    rows = [[f"P{n}", f"p{n}@example.com", "vip"] for n in range(600)]
    file = write_csv(tmp_path / "p.csv", rows, header=HEADER)
    seen: list[dict[str, float]] = []

    def after_batch(count: int, fraction: float | None) -> None:
        tables = ("contacts", "contact_facets", "contact_tags", "transitions")
        seen.append({table: planner_rows(crm, table) for table in tables})

    summary = tenant.import_contacts(file, batch_size=200, progress=after_batch)
    assert summary.created == 600
    # Contacts were analysed inside the first batch, before the rows whose foreign key
    # checks read them: the planner knew them before it planned those checks.
    assert seen[0]["contacts"] == 200, seen
    # By the end every table's statistics count at least half of its rows.
    with crm.db.connect() as conn:
        for table in seen[-1]:
            rows = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            assert rows > 0 and planner_rows(crm, table) >= rows / 2, (table, rows, seen)


def test_an_ingest_analyses_the_tables_it_grows(crm: CRM, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite's planner needs no statistics")
    tenant = crm.configure_tenant("t", ["17hats"])
    for n in range(20):
        tenant.add_contact({"first_name": f"P{n}"})
    kinds = ["lead_form_submitted", "quote_accepted", "email_sent"]
    events = [{"id": f"e{n}", "contact": n % 20 + 1, "kind": kinds[n % 3]} for n in range(900)]
    assert planner_rows(crm, "events") <= 0  # never analysed
    tenant.ingest(events, batch_size=300)
    with crm.db.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
    assert stored == 900 and planner_rows(crm, "events") >= stored / 2
