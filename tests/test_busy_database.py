"""A writer that waits too long for another's write lock gives up with one clear error
and changes nothing; recording retries before it gives up."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from support import FrozenClock, invoker

from crmkit import CRM
from crmkit.errors import BusyError, ConfigError
from crmkit.storage.writers import lock_tenant


@contextmanager
def write_lock_held(crm: CRM, tenant: str, seconds: float) -> Iterator[None]:
    """Another writer (as a long tick would) holds the tenant's write lock."""
    taken = threading.Event()

    def hold() -> None:
        with crm.db.begin() as conn:
            tenant_id = conn.execute(
                sa.text("SELECT id FROM tenants WHERE name = :n"), {"n": tenant}
            ).scalar_one()
            lock_tenant(conn, tenant_id)
            taken.set()
            time.sleep(seconds)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        holder.join()


@pytest.fixture
def busy_crm(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CRM]:
    monkeypatch.setenv("CRMKIT_LOCK_TIMEOUT", "0.5")
    crm = CRM(db_url, clock=FrozenClock())
    crm.migrate()
    crm.configure_tenant("acme", ["17hats"]).add_contact({"first_name": "Ada"})
    yield crm
    crm.close()


def test_an_edit_waiting_past_the_lock_timeout_fails_clearly_and_changes_nothing(
    busy_crm: CRM,
) -> None:
    tenant = busy_crm.tenant("acme")
    with write_lock_held(busy_crm, "acme", 2.0):
        started = time.monotonic()
        with pytest.raises(BusyError, match="nothing was changed"):
            tenant.update_contact(1, {"first_name": "Bob"})
        waited = time.monotonic() - started
    assert 0.4 < waited < 1.8  # it waited its timeout, and gave up before the lock was free
    assert tenant.get_contact(1).first_name == "Ada"


def test_recording_retries_until_the_lock_is_free(busy_crm: CRM) -> None:
    tenant = busy_crm.tenant("acme")
    with write_lock_held(busy_crm, "acme", 1.2):
        event = tenant.record_event(1, "lead_form_submitted", id="e1")
    assert event.status == "applied"
    assert tenant.get_contact(1).facets["contact_type"] == "hot_lead"


def test_the_cli_prints_one_line_while_the_database_is_busy(
    busy_crm: CRM, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = invoker(db_url, monkeypatch, "acme")
    with write_lock_held(busy_crm, "acme", 2.0):
        err = run("contact", "edit", "1", "--first-name", "Bob", code=1)
    assert err.startswith("error: the database is busy") and err.count("\n") == 1
    assert "Ada" in run("contact", "show", "1")


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "1e9"])
def test_a_bad_lock_timeout_is_refused_by_name(
    db_url: str, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CRMKIT_LOCK_TIMEOUT", value)
    with pytest.raises(ConfigError, match="CRMKIT_LOCK_TIMEOUT"):
        CRM(db_url)
