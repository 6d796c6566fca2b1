"""Helpers for crmkit's own tests, wherever the test file lives (``tests/`` or a pack's
``plugins/crmkit_<pack>/tests/``): ``from crmkit.testing.support import FrozenClock``.

``tests/support.py`` re-exports all of these, so the files in ``tests/`` keep writing
``from support import ...``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crmkit import hookimpl
from crmkit.cli.main import cli
from crmkit.clock import MovableClock
from crmkit.core import CRM
from crmkit.facets import Facet, FacetValue
from crmkit.packs import Pack
from crmkit.rules.engine import durable_import_error
from crmkit.testing.databases import snapshot


def durable_in_use() -> bool:
    """Whether CRMs built by the tests run durable_rules (not the compiled backend)."""
    return os.environ.get("CRMKIT_ENGINE") != "compiled" and durable_import_error() is None


needs_durable = pytest.mark.skipif(
    not durable_in_use(), reason="tests durable_rules itself; the compiled backend is in use"
)


def invoker(db_url: str, monkeypatch: pytest.MonkeyPatch, tenant: str) -> Callable[..., str]:
    """Runs crmkit commands for ``tenant``; returns stdout, or stderr when ``code`` != 0
    (stdout whatever the code when ``stdout=True``)."""
    runner = CliRunner()
    monkeypatch.setenv("CRMKIT_DATABASE_URL", db_url)
    monkeypatch.setenv("CRMKIT_TENANT", tenant)

    def invoke(*args: str, code: int = 0, stdout: bool = False) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result.stdout if code == 0 or stdout else result.stderr

    return invoke


class FrozenClock(MovableClock):
    """The tests' clock: 2026-05-01 09:00 UTC until moved."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start or datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc))


STAGE = Facet(
    name="stage",
    label="Stage",
    values=(
        FacetValue("open", "Open", "green"),
        FacetValue("won", "Won", "orange"),
        FacetValue("archived", "Archived", "grey", auto_only=True),
    ),
    default="open",
    policy="forward_only",
)


class PackPlugin:
    """Registers packs whose rulesets are written to ``directory``; one facet ``stage``."""

    def __init__(
        self, directory: Path, packs: dict[str, str], facets: tuple[Facet, ...] = (STAGE,)
    ):
        self.directory = directory
        self.packs = packs
        self.facets = facets

    @hookimpl
    def crmkit_register_facets(self, register: Callable[[Facet], None]) -> None:
        for facet in self.facets:
            register(facet)

    @hookimpl
    def crmkit_register_packs(self, register: Callable[[Pack], None]) -> None:
        for spec, text in self.packs.items():
            name, _, version = spec.partition("@")
            path = self.directory / f"{name}-{version or '1.0.0'}.yaml"
            path.write_text(text, encoding="utf-8")
            register(
                Pack(
                    name=name,
                    version=version or "1.0.0",
                    rulesets=(path,),
                    facets=tuple(f.name for f in self.facets),
                )
            )


_STATE_QUERIES = {
    "contacts": "SELECT id, score, version FROM contacts WHERE tenant_id = :t ORDER BY id",
    "facets": "SELECT contact_id, facet, value FROM contact_facets WHERE tenant_id = :t "
    "ORDER BY contact_id, facet",
    "tags": "SELECT contact_id, tag FROM contact_tags WHERE tenant_id = :t "
    "ORDER BY contact_id, tag",
    "events": "SELECT id, contact_id, kind, status, error FROM events WHERE tenant_id = :t "
    "ORDER BY seq",
    "transitions": "SELECT contact_id, version, target, name, old, new, cause_type, pack, rule, "
    "event_id FROM transitions WHERE tenant_id = :t ORDER BY contact_id, version",
    "actions": "SELECT contact_id, kind, status FROM scheduled_actions WHERE tenant_id = :t "
    "ORDER BY id",
}


def events_state(crm: CRM, tenant: str) -> dict[str, list[tuple[object, ...]]]:
    """Everything recording events changes in ``tenant`` (contacts, facets, tags, events
    in order, transitions, scheduled actions), without tenant ids and write times: two
    tenants given the same history compare equal."""
    with crm.db.connect() as conn:
        tenant_id = conn.execute(
            sa.text("SELECT id FROM tenants WHERE name = :n"), {"n": tenant}
        ).scalar_one()
        return {
            name: [tuple(row) for row in conn.execute(sa.text(query), {"t": tenant_id})]
            for name, query in _STATE_QUERIES.items()
        }


def crmkit_command() -> list[str]:
    """The installed ``crmkit`` script, for tests that run and kill real processes."""
    found = Path(sys.executable).with_name("crmkit")
    return [str(found)] if found.exists() else [shutil.which("crmkit") or "crmkit"]


__all__ = [
    "STAGE",
    "FrozenClock",
    "PackPlugin",
    "crmkit_command",
    "durable_in_use",
    "events_state",
    "invoker",
    "needs_durable",
    "snapshot",
]
