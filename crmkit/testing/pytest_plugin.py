"""crmkit's pytest plugin (entry point ``pytest11``), loaded wherever crmkit is installed.

Fixtures:

* ``crmkit_clock``: a :class:`~crmkit.clock.MovableClock` (2026-01-01 09:00 UTC);
  ``crmkit_clock.advance(days=3)`` moves it.
* ``crmkit_db_url``: an empty database for one test: a SQLite file in ``tmp_path``, or
  a fresh schema on the PostgreSQL server at ``$CRMKIT_TEST_POSTGRES_URL`` when set.
* ``crmkit_plugins``: extra plugin objects for the CRM (override it in a conftest).
* ``crmkit_crm``: a migrated :class:`~crmkit.core.CRM` on that database and clock.
* ``crmkit_tenants``: a factory, ``crmkit_tenants("acme", ["17hats"], settings)``.
* ``crmkit_tenant``: the tenant ``test`` with the packs of the test's
  ``@pytest.mark.crmkit_packs("17hats", "funnel@1.0.0")`` marker.

Scenario files (``*.scenarios.yaml``) in the collected folders become test items, one
per scenario, run with the installed plugins on a scratch SQLite database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# pytest loads this plugin in every project where crmkit is installed, whether its tests
# use crmkit or not: crmkit itself (SQLAlchemy, pydantic, the rules) is imported by the
# fixtures and hooks that need it, when they run, so that pytest starts as fast as without.
if TYPE_CHECKING:
    from crmkit.clock import MovableClock
    from crmkit.core import CRM
    from crmkit.scenarios import Scenario, ScenarioRunner
    from crmkit.tenant import Tenant

_RUNNER = pytest.StashKey["ScenarioRunner"]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "crmkit_packs(*specs): the packs of the crmkit_tenant fixture's tenant"
    )


@pytest.fixture
def crmkit_clock() -> MovableClock:
    from crmkit.clock import MovableClock

    return MovableClock()


@pytest.fixture
def crmkit_db_url(tmp_path: Path) -> Iterator[str]:
    from crmkit.testing.databases import POSTGRES_ENV, postgres_schema

    base = os.environ.get(POSTGRES_ENV)
    if not base:
        yield f"sqlite:///{tmp_path / 'crm.db'}"
        return
    with postgres_schema(base) as url:
        yield url


@pytest.fixture
def crmkit_plugins() -> Sequence[object]:
    return ()


@pytest.fixture
def crmkit_crm(
    crmkit_db_url: str, crmkit_clock: MovableClock, crmkit_plugins: Sequence[object]
) -> Iterator[CRM]:
    from crmkit.core import CRM

    crm = CRM(crmkit_db_url, plugins=crmkit_plugins, clock=crmkit_clock)
    crm.migrate()
    yield crm
    crm.close()


@pytest.fixture
def crmkit_tenants(
    crmkit_crm: CRM,
) -> Callable[..., Tenant]:
    def make(name: str, packs: Sequence[str], settings: Mapping[str, Any] | None = None) -> Tenant:
        return crmkit_crm.configure_tenant(name, list(packs), settings)

    return make


@pytest.fixture
def crmkit_tenant(request: pytest.FixtureRequest, crmkit_tenants: Callable[..., Tenant]) -> Tenant:
    marker = request.node.get_closest_marker("crmkit_packs")
    if marker is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: crmkit_tenant needs @pytest.mark.crmkit_packs(...) "
            "naming the tenant's packs"
        )
    return crmkit_tenants("test", list(marker.args))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop durable_rules' timers while the interpreter can still join them."""
    from crmkit.rules.engine import shutdown

    shutdown()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from crmkit.scenarios.model import SCENARIO_SUFFIX

    if file_path.name.endswith(SCENARIO_SUFFIX):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from crmkit.errors import SourceError
        from crmkit.scenarios import read_scenarios

        try:
            scenarios = read_scenarios(self.path, str(self.path))
        except SourceError as exc:
            raise self.CollectError(str(exc)) from None
        for scenario in scenarios:
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioFailure(Exception):
    """A scenario's expectation did not hold; the message is the runner's report."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def _runner(self) -> ScenarioRunner:
        from crmkit.scenarios import ScenarioRunner

        stash = self.session.stash
        if _RUNNER not in stash:
            runner = ScenarioRunner()
            stash[_RUNNER] = runner
            self.config.add_cleanup(runner.close)
        return stash[_RUNNER]

    def runtest(self) -> None:
        result = self._runner().run(self.scenario)
        if not result.passed:
            raise ScenarioFailure(result.message)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        from crmkit.errors import CRMError

        if isinstance(excinfo.value, (ScenarioFailure, CRMError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.line - 1, f"scenario: {self.scenario.name}"
