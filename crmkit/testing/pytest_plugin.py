"""crmkit's pytest plugin (entry point ``pytest11``), loaded wherever crmkit is installed.

Fixtures:

* ``crmkit_clock``: a :class:`~crmkit.clock.MovableClock` (2026-01-01 09:00 UTC);
  ``crmkit_clock.advance(days=3)`` moves it.
* ``crmkit_db_url``: an empty database for one test: a SQLite file in ``tmp_path``, or
  a fresh schema on the PostgreSQL server at ``$CRMKIT_TEST_POSTGRES_URL`` when set.
* ``crmkit_plugins``: extra plugin objects for the CRM (override it in a conftest).
* ``crmkit_messages``: the emails and texts the CRM sent, kept in memory instead
  (:class:`~crmkit.scenarios.outbox.CapturedMessages`): no test sends real mail.
* ``crmkit_crm``: a migrated :class:`~crmkit.core.CRM` on that database and clock, its
  messages captured.
* ``crmkit_tenants``: a factory, ``crmkit_tenants("acme", ["17hats"], settings)``.
* ``crmkit_tenant``: the tenant ``test`` with the packs of the test's
  ``@pytest.mark.crmkit_packs("17hats", "funnel@1.0.0")`` marker.

Scenario files (``*.scenarios.yaml``) in the collected folders become test items, one
per scenario, run with the installed plugins on a scratch SQLite database. A file that
the ``pack.yaml`` beside it lists runs against that folder's copy of the pack (in place
of the installed one), and its ``packs: [NAME]`` means the folder's version.
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
    from crmkit.packs import Pack
    from crmkit.scenarios import Scenario, ScenarioRunner
    from crmkit.scenarios.outbox import CapturedMessages
    from crmkit.tenant import Tenant

# The scenario runners of a session, by the folder whose pack they run on its own ("" is
# the shared one, running every collected pack folder whose version no other folder has).
_RUNNERS = pytest.StashKey["dict[str, ScenarioRunner]"]()
# The pack folders collected, by pack ref.
_FOLDER_PACKS = pytest.StashKey["dict[str, tuple[Pack, Path]]"]()


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
def crmkit_messages() -> CapturedMessages:
    from crmkit.scenarios.outbox import CapturedMessages

    return CapturedMessages()


@pytest.fixture
def crmkit_crm(
    crmkit_db_url: str,
    crmkit_clock: MovableClock,
    crmkit_plugins: Sequence[object],
    crmkit_messages: CapturedMessages,
) -> Iterator[CRM]:
    from crmkit.core import CRM

    crm = CRM(crmkit_db_url, plugins=[*crmkit_plugins, crmkit_messages], clock=crmkit_clock)
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
        from crmkit.scenarios.sources import owning_pack

        try:
            pack = owning_pack(self.path)
            scenarios = read_scenarios(self.path, str(self.path), pack)
        except SourceError as exc:
            raise self.CollectError(str(exc)) from None
        runner = ""
        if pack is not None:
            known = self.session.stash.setdefault(_FOLDER_PACKS, {})
            folder = self.path.parent.resolve()
            found = known.setdefault(pack.ref, (pack, folder))
            if found[1] != folder:
                runner = str(folder)  # a second copy of one version: run it on its own
        for scenario in scenarios:
            yield ScenarioItem.from_parent(
                self, name=scenario.name, scenario=scenario, runner=runner, pack=pack
            )


class ScenarioFailure(Exception):
    """A scenario's expectation did not hold; the message is the runner's report."""


class ScenarioItem(pytest.Item):
    def __init__(
        self, *, scenario: Scenario, runner: str = "", pack: Pack | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.runner_key = runner
        self.pack = pack

    def _runner(self) -> ScenarioRunner:
        from crmkit.scenarios import ScenarioRunner

        runners = self.session.stash.setdefault(_RUNNERS, {})
        if self.runner_key not in runners:
            if self.runner_key:
                packs = [self.pack] if self.pack is not None else []
            else:
                packs = [p for p, _ in self.session.stash.get(_FOLDER_PACKS, {}).values()]
            runner = ScenarioRunner(packs=packs)
            runners[self.runner_key] = runner
            self.config.add_cleanup(runner.close)
        return runners[self.runner_key]

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
