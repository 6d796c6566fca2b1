"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL runs read their server URL from CRMKIT_TEST_POSTGRES_URL. Without it they are
skipped with the reason; in CI (CI=true) a missing or unreachable server fails them.
Each PostgreSQL test gets its own schema, dropped afterwards. The pytest plugin's
fixtures (``crmkit_crm``...) are tested in test_testing_kit.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import FrozenClock

from crmkit import CRM, Tenant
from crmkit.testing.databases import POSTGRES_ENV, driver_url, postgres_schema

pytest_plugins = ["pytester"]


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if not url:
        message = f"{POSTGRES_ENV} is not set: PostgreSQL runs are skipped"
        if in_ci:
            pytest.fail(f"{message}, but CI requires them")
        pytest.skip(message)
    url = driver_url(url)
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except sa.exc.OperationalError as exc:
        message = f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc.orig}"
        if in_ci:
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}"
        return
    with postgres_schema(_postgres_base_url()) as url:
        yield url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def crm(db_url: str, clock: FrozenClock) -> Iterator[CRM]:
    instance = CRM(db_url, clock=clock)
    instance.migrate()
    yield instance
    instance.close()


@pytest.fixture
def acme(crm: CRM) -> Tenant:
    """A tenant using the 17hats pack."""
    return crm.configure_tenant("acme", ["17hats"])
