"""Portal logins under attack or misuse: archived contacts, guessing (lockout), weak
passwords, usernames without case, the set-password token kept off the command line.
(The timing of unknown against known usernames: tests/reliability/test_portal_timing.py.)
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner
from crmkit_funnel.portal import FAILURE_WINDOW, LOCKOUT, MAX_FAILURES, Portal
from crmkit_funnel.tables import PortalCredentialRow, PortalLoginFailureRow

from crmkit import CRM, Tenant, hookimpl
from crmkit.errors import PolicyError, ValidationError
from crmkit.storage.db import _alembic_config
from crmkit.testing.support import FrozenClock, invoker

PASSWORD = "correct horse"


class Inbox:
    def __init__(self) -> None:
        self.tokens: dict[int, str] = {}

    @hookimpl
    def crmkit_on_notice(
        self, tenant: str, contact_id: int, kind: str, data: dict[str, Any]
    ) -> None:
        if kind == "portal_invitation":
            self.tokens[contact_id] = data["token"]


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def shop(db_url: str, clock: FrozenClock, inbox: Inbox) -> Tenant:
    crm = CRM(db_url, clock=clock, plugins=[inbox])
    crm.migrate()
    return crm.configure_tenant("shop", ["funnel"])


def client(tenant: Tenant, email: str | None = "ada@example.com") -> int:
    extra = {"email": email} if email else {}
    return tenant.add_contact(
        {"first_name": "Ada", "last_name": "Lovelace", "facets": {"role": "client"}, **extra}
    ).id


def with_password(tenant: Tenant, inbox: Inbox, email: str = "ada@example.com") -> int:
    contact = client(tenant, email)
    Portal(tenant).set_password(email, inbox.tokens[contact], PASSWORD)
    return contact


def credentials(tenant: Tenant) -> list[Any]:
    with tenant.crm.db.connect() as conn:
        return list(conn.execute(sa.select(PortalCredentialRow)).all())


# ------------------------------------------------------------------ archived contacts
def test_archiving_revokes_the_login_and_restoring_does_not_bring_it_back(
    shop: Tenant, inbox: Inbox
) -> None:
    portal = Portal(shop)
    contact = with_password(shop, inbox)
    assert portal.authenticate("ada@example.com", PASSWORD) == contact
    unused = portal.invite(contact)["token"]

    shop.delete_contact(contact, actor="mia")  # archives
    assert portal.status(contact)["reason"] == "the contact is archived"
    with pytest.raises(PolicyError, match="wrong username or password"):
        portal.authenticate("ada@example.com", PASSWORD)
    with pytest.raises(PolicyError, match="invalid or already used"):
        portal.set_password("ada@example.com", unused, "another password")
    with pytest.raises(PolicyError, match=f"contact {contact} is archived: it cannot be invited"):
        portal.invite(contact)
    [row] = credentials(shop)
    assert (row.password_hash, row.token_hash) == (None, None)

    shop.restore_contact(contact, actor="mia")
    assert portal.status(contact)["reason"] == "the password has not been set yet"
    with pytest.raises(PolicyError, match="wrong username or password"):
        portal.authenticate("ada@example.com", PASSWORD)
    token = portal.invite(contact)["token"]
    assert portal.set_password("ada@example.com", token, "a new password") == contact
    assert portal.authenticate("ada@example.com", "a new password") == contact


def test_an_archived_lead_gets_no_credentials_when_its_role_moves_on(
    shop: Tenant, inbox: Inbox
) -> None:
    contact = client(shop)
    lead = shop.add_contact({"first_name": "Bo", "last_name": "Lead"}).id
    shop.delete_contact(lead, actor="mia")
    shop.set_facet(lead, "role", "prospect", actor="mia")
    assert lead not in inbox.tokens and contact in inbox.tokens
    assert [row.contact_id for row in credentials(shop)] == [contact]


# ------------------------------------------------------------------ lockout
def test_repeated_failures_lock_the_username_until_the_lock_expires(
    shop: Tenant, inbox: Inbox, clock: FrozenClock
) -> None:
    contact = with_password(shop, inbox)
    portal = Portal(shop)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(PolicyError, match="^wrong username or password$"):
            portal.authenticate("ada@example.com", "not the password")
    with pytest.raises(PolicyError, match="wrong username or password; too many failed logins"):
        portal.authenticate("ada@example.com", "not the password")
    clock.advance(minutes=1)
    # The right password is refused while locked, from another process (CRM) too.
    other = CRM(shop.crm.db.url.render_as_string(hide_password=False), clock=clock)
    for tenant in (shop, other.tenant("shop")):
        with pytest.raises(PolicyError, match="locked until 2026-05-01 09:15:00 UTC"):
            Portal(tenant).authenticate("ADA@example.com", PASSWORD)
    other.close()
    clock.advance(LOCKOUT - timedelta(minutes=1))
    assert portal.authenticate("ada@example.com", PASSWORD) == contact
    with shop.crm.db.connect() as conn:
        assert conn.execute(sa.select(PortalLoginFailureRow)).all() == []


def test_failures_spread_beyond_the_window_do_not_lock(
    shop: Tenant, inbox: Inbox, clock: FrozenClock
) -> None:
    contact = with_password(shop, inbox)
    portal = Portal(shop)
    for _ in range(3):
        for _ in range(MAX_FAILURES - 1):
            with pytest.raises(PolicyError, match="^wrong username or password$"):
                portal.authenticate("ada@example.com", "not the password")
        clock.advance(FAILURE_WINDOW)
    assert portal.authenticate("ada@example.com", PASSWORD) == contact


def test_unknown_usernames_lock_like_known_ones(shop: Tenant, inbox: Inbox) -> None:
    with_password(shop, inbox)
    portal = Portal(shop)
    messages = {}
    for username in ("ada@example.com", "nobody@example.com"):
        seen = []
        for _ in range(MAX_FAILURES + 1):
            with pytest.raises(PolicyError) as refused:
                portal.authenticate(username, "not the password")
            seen.append(str(refused.value).replace(username, "USER"))
        messages[username] = seen
    assert messages["ada@example.com"] == messages["nobody@example.com"]
    assert "locked until" in messages["nobody@example.com"][-1]


# ------------------------------------------------------------------ password policy
@pytest.mark.parametrize(
    ("password", "message"),
    [
        (" " * 8, "a password cannot be only spaces"),
        ("\t \n" * 4, "a password cannot be only spaces"),
        ("a b c d e f g ", "at least 8 characters other than spaces \\(this one has 7\\)"),
        ("short", "at least 8"),
        ("x" * 257, "at most 256 characters \\(this one has 257\\)"),
    ],
)
def test_a_weak_or_overlong_password_is_refused_and_the_token_still_works(
    shop: Tenant, inbox: Inbox, password: str, message: str
) -> None:
    contact = client(shop)
    portal = Portal(shop)
    with pytest.raises(ValidationError, match=message):
        portal.set_password("ada@example.com", inbox.tokens[contact], password)
    assert credentials(shop)[0].password_hash is None
    assert portal.set_password("ada@example.com", inbox.tokens[contact], "  ab cd ef gh  ")
    assert portal.authenticate("ada@example.com", "  ab cd ef gh  ") == contact


# ------------------------------------------------------------------ usernames
def test_usernames_compare_without_case_and_never_collide(shop: Tenant, inbox: Inbox) -> None:
    first = client(shop, "Ada@Example.com")
    portal = Portal(shop)
    assert portal.status(first)["username"] == "ada@example.com"
    assert portal.set_password("ADA@EXAMPLE.COM", inbox.tokens[first], PASSWORD) == first
    for spelling in ("ada@example.com", "Ada@Example.COM", " ada@example.com "):
        assert portal.authenticate(spelling, PASSWORD) == first
    second = client(shop, "ADA@example.com")
    assert portal.status(second)["username"] == "ada@example.com2"
    with shop.crm.db.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(
            sa.update(PortalCredentialRow)
            .where(PortalCredentialRow.contact_id == second)
            .values(username="ADA@EXAMPLE.COM", username_key="ada@example.com")
        )


def test_logins_from_before_the_upgrade_keep_working_without_case(
    shop: Tenant, inbox: Inbox
) -> None:
    """Migration 0008 keys existing usernames; of two differing only by case, the older
    gets the key and the other still logs in by its exact spelling."""
    older, younger, other = (client(shop, None) for _ in range(3))
    for contact in (older, younger, other):
        Portal(shop).set_password(
            Portal(shop).status(contact)["username"], inbox.tokens[contact], PASSWORD
        )
    config = _alembic_config(shop.crm.db, shop.crm.migration_locations)
    command.downgrade(config, "0007")
    with shop.crm.db.begin() as conn:
        for contact, username in ((older, "Ada.Lovelace"), (younger, "ADA.LOVELACE")):
            conn.execute(
                sa.text("UPDATE portal_credentials SET username = :u WHERE contact_id = :c"),
                {"u": username, "c": contact},
            )
    command.upgrade(config, "heads")
    shop.crm._schema_checked = False
    portal = Portal(shop)
    assert portal.authenticate("ada.lovelace", PASSWORD) == older
    assert portal.authenticate("Ada.Lovelace", PASSWORD) == older
    assert portal.authenticate("ADA.LOVELACE", PASSWORD) == younger
    assert portal.authenticate("Ada.Lovelace3", PASSWORD) == other
    assert portal.status(client(shop, None))["username"] == "ada.lovelace2"  # freed


# ------------------------------------------------------------------ CLI: the token
@pytest.fixture
def invited(shop: Tenant, inbox: Inbox, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    shop.crm.close()
    run = invoker(db_url, monkeypatch, "shop")
    run("contact", "add", "--first-name", "Ada", "--email", "ada@example.com")
    run("contact", "set", "1", "role", "client")
    return str(inbox.tokens.get(1) or _invite(run))


def _invite(run: Any) -> str:
    import json

    return str(json.loads(run("portal", "invite", "1", "--json"))["token"])


def _set_password(*args: str, input: str | None = None) -> Any:
    from crmkit.cli.main import cli

    return CliRunner().invoke(cli, ["portal", "set-password", *args], input=input)


def test_cli_reads_the_token_from_standard_input(invited: str) -> None:
    result = _set_password("ada@example.com", input=f"{invited}\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "password set for ada@example.com (contact 1)" in result.stdout
    assert invited not in result.output


def test_cli_reads_the_token_from_a_file(invited: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token.txt"
    token_file.write_text(f"{invited}\n", encoding="utf-8")
    result = _set_password(
        "ADA@example.com", "--token-file", str(token_file), "--password", PASSWORD
    )
    assert result.exit_code == 0, result.output
    assert "password set for ADA@example.com (contact 1)" in result.stdout


def test_cli_token_errors_are_one_line_and_change_nothing(
    invited: str, tmp_path: Path, shop: Tenant
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    cases = [
        (("--token-file", str(empty)), "no set-password token in"),
        (("--token-file", str(tmp_path / "missing.txt")), "No such file or directory"),
        (("--token-file", str(empty), "--token", invited), "give the token once"),
    ]
    for args, message in cases:
        result = _set_password("ada@example.com", *args, "--password", PASSWORD)
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.output
    result = _set_password("ada@example.com", "--password", "        ", input=f"{invited}\n")
    assert result.exit_code == 1
    assert "a password cannot be only spaces" in result.stderr
    assert "Traceback" not in result.output
    assert credentials(shop)[0].password_hash is None


def test_cli_warns_that_a_token_argument_is_visible(invited: str) -> None:
    result = _set_password("ada@example.com", "--token", invited, "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert "visible in the process list" in result.stderr


def test_cli_login_without_case_and_its_lockout_are_one_line(
    invited: str, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = invoker(db_url, monkeypatch, "shop")
    result = _set_password("ada@example.com", "--password", PASSWORD, input=f"{invited}\n")
    assert result.exit_code == 0, result.output
    assert "ok: Ada@Example.com is contact 1" in run(
        "portal", "login", "Ada@Example.com", "--password", PASSWORD
    )
    for _ in range(MAX_FAILURES):
        run("portal", "login", "ada@example.com", "--password", "not it at all", code=1)
    refused = run("portal", "login", "ada@example.com", "--password", PASSWORD, code=1)
    assert "too many failed logins for 'ada@example.com': locked until" in refused
    assert len(refused.strip().splitlines()) == 1 and "Traceback" not in refused
