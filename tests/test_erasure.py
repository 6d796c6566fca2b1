"""Erasing a contact leaves nothing of it behind: not in the SQLite files (the database
and its write-ahead log, with a connection kept open), not in saved searches, not in
failed-login counts. Files holding contacts are readable by their owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crmkit_contacts.segments import SavedSearches
from crmkit_funnel.portal import Portal
from crmkit_funnel.tables import PortalLoginFailureRow
from support import FrozenClock

from crmkit import CRM, Tenant
from crmkit.errors import PolicyError
from crmkit.filters import quote

EMAIL = "erase.me@example.com"
PHONE = "+12015550188"


def erasable(tenant: Tenant, others: int = 0) -> int:
    for i in range(others):
        tenant.add_contact({"first_name": f"Other{i}", "email": f"other{i}@example.com"})
    contact = tenant.add_contact(
        {"first_name": "Erin", "last_name": "Zed", "email": EMAIL, "phone": PHONE}
    ).id
    tenant.update_contact(contact, {"email": EMAIL.upper()}, actor="ann")  # an old value
    tenant.update_contact(contact, {"email": EMAIL}, actor="ann")
    tenant.record_event(contact, "lead_form_submitted", {"email": EMAIL}, id="form-1")
    return contact


def erase(tenant: Tenant, contact: int) -> None:
    assert tenant.delete_contact(contact, actor="ann") == "archived"
    assert tenant.delete_contact(contact, actor="ann") == "erased"


@pytest.fixture
def sqlite_crm(tmp_path: Path, clock: FrozenClock) -> Iterator[CRM]:
    crm = CRM(f"sqlite:///{tmp_path / 'crm.db'}", clock=clock)

    # Some SQLite builds (Debian's) overwrite deleted content by default, others do
    # not: the test runs as the second kind.
    @sa.event.listens_for(crm.db, "connect")
    def keep_deleted_bytes(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA secure_delete=OFF")

    crm.migrate()
    yield crm
    crm.close()


def raw_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.glob("crm.db*")}


def test_erased_values_are_gone_from_the_sqlite_files(sqlite_crm: CRM, tmp_path: Path) -> None:
    tenant = sqlite_crm.configure_tenant("acme", ["17hats"])
    contact = erasable(tenant, others=300)
    SavedSearches(tenant).save("theirs", f"contact.email == {quote(EMAIL)}", f"for {EMAIL}")
    with sqlite_crm.db.connect() as idle:  # a connection that stays open throughout
        idle.execute(sa.text("select 1")).all()
        before = raw_bytes(tmp_path)
        assert any(EMAIL.encode() in data for data in before.values())
        erase(tenant, contact)
        after = raw_bytes(tmp_path)
        assert "crm.db-wal" in after  # the log is still there, emptied
        for name, data in after.items():
            for value in (EMAIL, EMAIL.upper(), PHONE):
                assert value.encode() not in data, f"{value} is still in {name}"
        assert b"other299@example.com" in after["crm.db"]
    assert tenant.get_contact(contact - 1).email == "other299@example.com"


def test_saved_searches_lose_the_erased_email_and_phone(acme: Tenant) -> None:
    contact = erasable(acme)
    searches = SavedSearches(acme)
    searches.save("theirs", f"contact.email == {quote(EMAIL.upper())}", f"{EMAIL}, {PHONE}")
    searches.save("phone", f"contact.phone == {quote(PHONE)}")
    searches.save("lookalike", f"contact.email == {quote('x' + EMAIL)}", "not theirs")
    searches.save("names", "contact.first_name == Erin")
    erase(acme, contact)
    assert searches.get("theirs")["condition"] == 'contact.email == "[erased]"'
    assert searches.get("theirs")["description"] == "[erased], [erased]"
    assert searches.get("phone")["condition"] == 'contact.phone == "[erased]"'
    assert searches.get("lookalike")["condition"] == f'contact.email == "x{EMAIL}"'
    assert searches.get("names")["condition"] == "contact.first_name == Erin"
    assert searches.run("theirs") == []


def test_erase_drops_failed_login_counts_under_the_email(crm: CRM) -> None:
    shop = crm.configure_tenant("shop", ["funnel"])
    contact = shop.add_contact(
        {"first_name": "Erin", "email": EMAIL, "facets": {"role": "client"}}
    ).id
    with pytest.raises(PolicyError):
        Portal(shop).authenticate(EMAIL.upper(), "wrong password")
    with pytest.raises(PolicyError):
        Portal(shop).authenticate("someone@example.com", "wrong password")
    erase(shop, contact)
    with crm.db.connect() as conn:
        keys = conn.scalars(sa.select(PortalLoginFailureRow.username_key)).all()
    assert keys == ["someone@example.com"]


# ------------------------------------------------------------------ file modes
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("open_umask")
def test_database_export_and_report_files_are_for_their_owner_only(
    tmp_path: Path, clock: FrozenClock
) -> None:
    crm = CRM(f"sqlite:///{tmp_path / 'crm.db'}", clock=clock)
    crm.migrate()
    tenant = crm.configure_tenant("acme", ["17hats"])
    tenant.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    csv = tmp_path / "contacts.csv"
    tenant.export_contacts(csv)
    tenant.export_contacts(tmp_path / "contacts.xlsx")
    stale = tmp_path / "stale.csv"
    stale.write_text("old", encoding="utf-8")
    os.chmod(stale, 0o644)
    tenant.export_contacts(stale)
    bad = tmp_path / "bad.csv"
    bad.write_text("first_name,email\nBo,not an email\n", encoding="utf-8")
    report = tmp_path / "bad.errors.csv"
    assert tenant.import_contacts(bad, errors_path=report).errors
    files = ["crm.db", "crm.db-wal", "crm.db-shm", "contacts.csv", "contacts.xlsx"]
    for name in [*files, "stale.csv", "bad.errors.csv"]:
        assert mode(tmp_path / name) == 0o600, name
    crm.close()
