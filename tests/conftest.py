"""The fixtures of these tests (``db_url``, ``clock``, ``crm``) live in
:mod:`crmkit.testing.suite`, loaded by ``-p crmkit.testing.suite`` in pyproject.toml, so
that the packs' tests under ``plugins/`` get them too; helpers are in support.py.

Every database test runs on SQLite and on PostgreSQL (``CRMKIT_TEST_POSTGRES_URL``), on
a database migrated once per test process and copied or emptied for each test; tests of
migrations mark themselves ``@pytest.mark.empty_database``. The pytest plugin's own
fixtures (``crmkit_crm``...) are tested in test_testing_kit.py. ``acme`` (a tenant of
the 17hats pack) is defined here: the core's suite module names no pack.
"""

from __future__ import annotations

import pytest

from crmkit import CRM, Tenant

pytest_plugins = ["pytester"]


@pytest.fixture
def acme(crm: CRM) -> Tenant:
    """A tenant using the 17hats pack."""
    return crm.configure_tenant("acme", ["17hats"])
