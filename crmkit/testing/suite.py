"""crmkit's own test suite as a pytest plugin: the fixtures of every test file, in
``tests/`` and in the packs' ``plugins/crmkit_<pack>/tests/``.

Loaded with ``-p crmkit.testing.suite`` from crmkit's ``pyproject.toml`` (``addopts``),
so it comes from the installed crmkit (tox's wheel, or an editable install) and no
``conftest.py`` outside ``tests/`` is needed: ``pytest plugins/crmkit_funnel/tests`` gets
the same fixtures as ``pytest tests``. It is not an entry point: projects that merely
install crmkit get :mod:`crmkit.testing.pytest_plugin` only. Helpers are imported with
``from crmkit.testing.support import FrozenClock, invoker, ...``.

Fixtures:

* ``db_url`` (run twice, ``[sqlite]`` and ``[postgresql]``): a database migrated to the
  newest schema. Migrations run once per test process into a template (see
  :mod:`crmkit.testing.databases`): SQLite gets a copy of a migrated file, PostgreSQL a
  schema emptied back to its just-migrated state. A test of migrations themselves marks
  itself ``@pytest.mark.empty_database`` (or a module's ``pytestmark``) to get a new,
  empty database instead. PostgreSQL runs read the server from
  ``$CRMKIT_TEST_POSTGRES_URL``; without it they are skipped with the reason, and in CI
  (``CI=true``) a missing or unreachable server fails them.
* ``module_db_url`` (also ``[sqlite]`` and ``[postgresql]``): a migrated database shared
  by a module's tests, for module-scoped fixtures that those tests only read.
* ``clock``: a :class:`~crmkit.testing.support.FrozenClock` (2026-05-01 09:00 UTC).
* ``crm``: a :class:`~crmkit.core.CRM` on ``db_url`` and ``clock``, closed afterwards.

Hypothesis runs the ``quick`` profile unless ``--hypothesis-profile`` names another (the
``reliability`` tox environment runs ``full``; see :mod:`crmkit.testing.properties`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

import crmkit.core
from crmkit.core import CRM
from crmkit.storage.db import upgrade
from crmkit.testing.databases import (
    POSTGRES_ENV,
    MigrationTemplates,
    ReusableSchema,
    copy_sqlite,
    driver_url,
    migrated_sqlite,
    postgres_schema,
    scratch_database,
)
from crmkit.testing.properties import QUICK
from crmkit.testing.support import FrozenClock

EMPTY_MARKER = "empty_database"

# Loaded now, before pytest's configure step, where ``--hypothesis-profile`` replaces it.
settings.load_profile(QUICK)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{EMPTY_MARKER}: the db_url fixture gives a new, empty (unmigrated) database",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A pack's folder (``plugins/crmkit_funnel/``, an importable top-level package) is a
    plain directory to collect, not a test package: pytest would import its
    ``__init__.py`` from the source tree, beside the installed pack that crmkit loaded
    (an import mismatch under tox, two copies of the pack in an editable install)."""
    if (
        (path / "__init__.py").is_file()
        and not (path.parent / "__init__.py").is_file()
        and path.name.isidentifier()
        and (path.name in sys.modules or importlib.util.find_spec(path.name) is not None)
    ):
        return pytest.Dir.from_parent(parent, path=path)
    return None


def _template_crm(url: str) -> CRM:
    return CRM(url, clock=FrozenClock())


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


_reached: set[str] = set()  # servers that answered once: not asked again for each test


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"{POSTGRES_ENV} is not set: PostgreSQL runs are skipped"
        if _in_ci():
            pytest.fail(f"{message}, but CI requires them")
        pytest.skip(message)
    url = driver_url(url)
    if url in _reached:
        return url
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except sa.exc.OperationalError as exc:
        message = f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc.orig}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    _reached.add(url)
    return url


# Tests after which the PostgreSQL schema had to be migrated again (they changed it).
_SCHEMA_CHANGERS: list[str] = []
_last_postgres_user = [""]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SCHEMA_CHANGERS and terminalreporter.config.get_verbosity() > 0:
        terminalreporter.write_sep("-", "crmkit: tests that changed the migrated schema")
        for nodeid in _SCHEMA_CHANGERS:
            terminalreporter.write_line(nodeid)


@pytest.fixture(scope="session", autouse=True)
def crmkit_migration_templates(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MigrationTemplates]:
    """Migrations of an empty database run once per plugin set and dialect, then copied
    (see :class:`~crmkit.testing.databases.MigrationTemplates`)."""
    templates = MigrationTemplates(upgrade, tmp_path_factory.mktemp("migrated"))
    with pytest.MonkeyPatch.context() as patch:
        # CRM.migrate calls it by this name; the CLI's `init` goes through CRM.migrate.
        patch.setattr(crmkit.core, "upgrade", templates.upgrade)
        yield templates


@pytest.fixture(autouse=True)
def _real_migrations_when_marked(
    request: pytest.FixtureRequest, crmkit_migration_templates: MigrationTemplates
) -> Iterator[None]:
    """A test of migrations themselves (``empty_database``) runs every script for real."""
    crmkit_migration_templates.active = request.node.get_closest_marker(EMPTY_MARKER) is None
    yield
    crmkit_migration_templates.active = True


@pytest.fixture(scope="session")
def crmkit_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test process, copied for each test."""
    return migrated_sqlite(tmp_path_factory.mktemp("template") / "crm.db", _template_crm)


@pytest.fixture(scope="session")
def crmkit_postgres_database() -> Iterator[str]:
    """This test process's own PostgreSQL database (see ``scratch_database``), or the
    server's shared one where the role may not create databases."""
    base = _postgres_base_url()
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(base))
        except sa.exc.ProgrammingError as exc:  # no CREATEDB right
            if "permission denied" not in str(exc):
                raise
            url = base
        yield url


@pytest.fixture(scope="session")
def crmkit_postgres_schema(crmkit_postgres_database: str) -> Iterator[ReusableSchema]:
    """This test process's migrated PostgreSQL schema, dropped at the end."""
    schema = ReusableSchema(crmkit_postgres_database, _template_crm)
    try:
        yield schema
    finally:
        schema.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to a database migrated by the ``crm`` fixture's plugins, for the tests that
    use ``crm``; an empty one for the others (they build a CRM of their own plugins, whose
    migrations are theirs to run) and under ``@pytest.mark.empty_database``: a SQLite
    file, or a PostgreSQL schema."""
    # A database whose version table records a plugin's branch is refused by a CRM
    # without that plugin, so only the crm fixture's tests share the migrated template.
    empty = (
        request.node.get_closest_marker(EMPTY_MARKER) is not None
        or "crm" not in request.fixturenames
    )
    if request.param == "sqlite":
        path = tmp_path / "crm.db"
        if empty:
            yield f"sqlite:///{path}"
        else:
            yield copy_sqlite(request.getfixturevalue("crmkit_sqlite_template"), path)
        return
    if empty:
        _postgres_base_url()  # skips or fails, with the reason
        with postgres_schema(request.getfixturevalue("crmkit_postgres_database")) as url:
            yield url
        return
    _postgres_base_url()  # skips or fails, with the reason, before any schema is made
    schema: ReusableSchema = request.getfixturevalue("crmkit_postgres_schema")
    rebuilds = schema.rebuilds
    url = schema.fresh()
    if schema.rebuilds > rebuilds:
        _SCHEMA_CHANGERS.append(_last_postgres_user[0])
    _last_postgres_user[0] = request.node.nodeid
    yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """As ``db_url``, a migrated database, but one for all the tests of a module: for
    fixtures those tests only read, built once (``@pytest.fixture(scope="module")``)."""
    if request.param == "sqlite":
        template = request.getfixturevalue("crmkit_sqlite_template")
        yield copy_sqlite(template, tmp_path_factory.mktemp("module") / "crm.db")
        return
    _postgres_base_url()
    with postgres_schema(request.getfixturevalue("crmkit_postgres_database")) as url:
        _template_crm(url).migrate()
        yield url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def crm(request: pytest.FixtureRequest, db_url: str, clock: FrozenClock) -> Iterator[CRM]:
    instance = CRM(db_url, clock=clock)
    if request.node.get_closest_marker(EMPTY_MARKER) is not None:
        instance.migrate()
    # Otherwise db_url was migrated by a CRM of the same plugins: migrating again would
    # only read every migration script anew (0.1 to 0.3 s a test); the CRM still checks
    # the schema's revision before its first use.
    yield instance
    instance.close()
