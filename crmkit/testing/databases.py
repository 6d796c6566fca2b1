"""Scratch databases for tests: a fresh PostgreSQL schema per test, and snapshots."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from crmkit.core import CRM

POSTGRES_ENV = "CRMKIT_TEST_POSTGRES_URL"


def driver_url(url: str) -> str:
    """``postgresql://`` URLs use psycopg 3, the driver crmkit installs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections live in a new, empty schema, dropped afterwards.

    Tests running side by side on one server then never see each other's tables.
    """
    base = driver_url(base_url)
    schema = f"crmkit_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def snapshot(crm: CRM) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every crmkit table, to show that a refused operation changed nothing."""
    from crmkit.storage.models import Base

    with crm.db.connect() as conn:
        return {
            name: sorted(tuple(map(repr, row)) for row in conn.execute(sa.select(table)))
            for name, table in Base.metadata.tables.items()
        }
