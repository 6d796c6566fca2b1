"""The fixtures of these tests (``db_url``, ``clock``, ``crm``, ``acme``) live in
:mod:`crmkit.testing.suite`, loaded by ``-p crmkit.testing.suite`` in pyproject.toml, so
that the packs' tests under ``plugins/`` get them too; helpers are in support.py.

Every database test runs on SQLite and on PostgreSQL (``CRMKIT_TEST_POSTGRES_URL``), on
a database migrated once per test process and copied or emptied for each test; tests of
migrations mark themselves ``@pytest.mark.empty_database``. The pytest plugin's own
fixtures (``crmkit_crm``...) are tested in test_testing_kit.py.
"""

from __future__ import annotations

pytest_plugins = ["pytester"]
