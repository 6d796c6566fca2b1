"""Test support for crmkit users and for crmkit's own tests.

For projects that use crmkit:

* :mod:`crmkit.testing.pytest_plugin`, loaded automatically by pytest wherever crmkit is
  installed (entry point ``pytest11``): the ``crmkit_*`` fixtures and the scenario files.
* A movable clock (:class:`MovableClock`), scratch PostgreSQL schemas
  (:func:`postgres_schema`) and :func:`snapshot` of every table.

For crmkit's own test suite, wherever a test file lives (``tests/`` or a pack's
``plugins/crmkit_<pack>/tests/``, which has no ``__init__.py`` and no ``conftest.py``):

* :mod:`crmkit.testing.suite`, a pytest plugin loaded by ``-p crmkit.testing.suite`` in
  ``pyproject.toml``'s ``addopts``, so it always comes from the crmkit being tested (tox's
  installed wheel, or an editable install; the source tree is never put on
  ``sys.path``). It gives the fixtures ``db_url`` (SQLite and PostgreSQL, migrated once
  per test process: see :mod:`crmkit.testing.databases`), ``module_db_url``, ``clock``,
  ``crm`` and ``acme``, the ``empty_database`` marker for tests of migrations, and loads
  the quick Hypothesis profile.
* :mod:`crmkit.testing.support`, the helpers: a pack's test file writes
  ``from crmkit.testing.support import FrozenClock, PackPlugin, invoker, snapshot``
  (``tests/support.py`` re-exports them for ``from support import ...``).
* :mod:`crmkit.testing.properties`: ``@settings(max_examples=examples(3000))`` states a
  property test's full count; the ``quick`` profile (the default) runs a tenth of it,
  ``--hypothesis-profile=full`` (the ``reliability`` tox env) all of it.

Those three modules import pytest and Hypothesis, so nothing here imports them.
"""

from crmkit.clock import MovableClock
from crmkit.testing.databases import postgres_schema, snapshot

__all__ = ["MovableClock", "postgres_schema", "snapshot"]
