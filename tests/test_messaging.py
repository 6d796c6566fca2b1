"""Texts, emails and upcoming actions: a real SMTP server receives the mail, texts go to
the outbox or a transport plugin, `tick` carries out due actions and records events."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from slow_smtp import trickling_server
from support import FrozenClock, PackPlugin, invoker, snapshot

from crmkit import CRM, Tenant, hookimpl
from crmkit.errors import ConfigError, DeliveryError, NotFoundError, PolicyError, ValidationError
from crmkit.storage.models import SmsOutboxRow
from crmkit.transports import DEADLINE_ENV, PLAIN_AUTH_ENV, PREFIXES_ENV

UK_MOBILE = "07911 123456"
UK_LANDLINE = "020 7183 8750"


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def ct(crm: CRM, smtp: tuple[Inbox, int]) -> Tenant:
    return crm.configure_tenant(
        "ct",
        ["clienttether", "leadklozer"],
        {
            "phone_region": "GB",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp[1],
            "mail_from": "team@acme-homes.com",
            "sender_name": "Acme Homes",
        },
    )


def outbox(crm: CRM) -> list[tuple[int, str, str]]:
    o = SmsOutboxRow.__table__.c
    with crm.db.connect() as conn:
        rows = conn.execute(sa.select(o.message_id, o.to_number, o.body).order_by(o.message_id))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_an_email_reaches_a_real_smtp_server_and_is_logged(
    ct: Tenant, smtp: tuple[Inbox, int]
) -> None:
    ada = ct.add_contact({"first_name": "Ada", "email": "ada@example.com", "phone": UK_MOBILE})
    sent = ct.send_email(ada.id, template="clienttether:welcome_email.txt.j2")
    inbox, _ = smtp
    assert len(inbox.messages) == 1
    sender, recipients, mail = inbox.messages[0]
    assert (sender, recipients) == ("team@acme-homes.com", ["ada@example.com"])
    assert mail["Subject"] == "Welcome to Acme Homes, Ada"
    body = mail.get_payload(decode=True).decode()
    assert "Hi Ada," in body and "on +447911123456" in body
    assert (sent.status, sent.reference) == ("sent", mail["Message-ID"])
    assert [m.id for m in ct.messages(ada.id, "email")] == [sent.id]
    assert ct.explain(ada.id) == []
    events = ct.profile(ada.id).history
    assert [e.what for e in events] == ["message_out"]


def test_a_text_needs_permission_and_goes_to_the_outbox(ct: Tenant, crm: CRM) -> None:
    mo = ct.add_contact({"first_name": "Mo", "phone": UK_MOBILE})
    sent = ct.send_text(mo.id, body="See you at 3")
    assert (sent.status, sent.address, sent.reference) == ("sent", "+447911123456", "outbox:1")
    assert outbox(crm) == [(sent.id, "+447911123456", "See you at 3")]
    lia = ct.add_contact({"first_name": "Lia", "phone": UK_LANDLINE})
    ct.update_contact(mo.id, {"ok_to_sms": False})
    before = snapshot(crm)
    with pytest.raises(PolicyError, match="texting contact 2 is not allowed: Landline number"):
        ct.send_text(lia.id, body="hi")
    with pytest.raises(PolicyError, match="texting contact 1 is not allowed: no express perm"):
        ct.send_text(mo.id, body="hi")
    assert snapshot(crm) == before


def test_bad_messages_change_nothing(ct: Tenant, crm: CRM) -> None:
    ada = ct.add_contact({"first_name": "Ada", "email": "ada@example.com", "phone": UK_MOBILE})
    nobody = ct.add_contact({"first_name": "Nat"})
    before = snapshot(crm)
    with pytest.raises(ConfigError, match="pack clienttether@1.0.0 has no template 'nope.j2'"):
        ct.send_text(ada.id, template="clienttether:nope.j2")
    with pytest.raises(ConfigError, match="pack 'funnel' is not one of the tenant's packs"):
        ct.send_text(ada.id, template="funnel:x.j2")
    with pytest.raises(ValidationError, match="needs either a body or a template"):
        ct.send_text(ada.id)
    with pytest.raises(ValidationError, match="an email needs a subject"):
        ct.send_email(ada.id, body="no subject")
    with pytest.raises(PolicyError, match="contact 2 has no email address"):
        ct.send_email(nobody.id, subject="Hi", body="x")
    with pytest.raises(ValidationError, match="the sms body is 1601 characters"):
        ct.send_text(ada.id, body="x" * 1601)
    with pytest.raises(NotFoundError):
        ct.send_text(99, body="x")
    assert snapshot(crm) == before


def test_a_template_error_names_the_template_and_changes_nothing(
    tmp_path: Path, db_url: str, clock: FrozenClock
) -> None:
    plugin = PackPlugin(tmp_path, {"broken": "rules: []"})
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "oops.txt.j2").write_text("Hi {{ contact.nickname }}", encoding="utf-8")
    (templates / "escape.txt.j2").write_text("{{ ''.__class__.__mro__ }}", encoding="utf-8")

    class WithTemplates(PackPlugin):
        @hookimpl
        def crmkit_register_packs(self, register: Any) -> None:
            from crmkit.packs import Pack

            register(Pack(name="broken", version="1.0.0", templates=templates))

    crm = CRM(db_url, plugins=[WithTemplates(tmp_path, {})], clock=clock)
    crm.migrate()
    tenant = crm.configure_tenant("t", ["broken"], {"phone_region": "GB"})
    ada = tenant.add_contact({"first_name": "Ada", "phone": UK_MOBILE})
    before = snapshot(crm)
    with pytest.raises(ConfigError, match="template 'oops.txt.j2' of pack broken@1.0.0 failed"):
        tenant.send_text(ada.id, template="broken:oops.txt.j2")
    with pytest.raises(ConfigError, match="failed: access to attribute '__class__'"):
        tenant.send_text(ada.id, template="broken:escape.txt.j2")
    assert snapshot(crm) == before
    del plugin
    crm.close()


class Gateway:
    """An SMS and email transport plugin: what a provider integration looks like."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.texts: list[dict[str, Any]] = []
        self.emails: list[dict[str, Any]] = []

    @hookimpl
    def crmkit_send_sms(self, tenant: str, message: dict[str, Any]) -> str | None:
        if self.fail:
            raise ConnectionError("gateway unreachable")
        self.texts.append(message)
        return f"gw-{message['id']}"

    @hookimpl
    def crmkit_send_email(self, tenant: str, message: dict[str, Any]) -> str | None:
        self.emails.append(message)
        return None  # pass: crmkit's SMTP default sends it


def test_transport_plugins_send_or_fail_and_the_failure_is_kept(
    db_url: str, clock: FrozenClock, smtp: tuple[Inbox, int]
) -> None:
    gateway = Gateway()
    crm = CRM(db_url, plugins=[gateway], clock=clock)
    crm.migrate()
    settings = {"phone_region": "GB", "smtp_host": "127.0.0.1", "smtp_port": smtp[1]}
    tenant = crm.configure_tenant("t", ["clienttether"], {**settings, "mail_from": "a@b.com"})
    mo = tenant.add_contact({"first_name": "Mo", "phone": UK_MOBILE, "email": "mo@example.com"})
    sent = tenant.send_text(mo.id, body="hello")
    assert sent.reference == "gw-1" and gateway.texts[0]["to"] == "+447911123456"
    assert outbox(crm) == []
    tenant.send_email(mo.id, subject="Hi", body="there")
    assert gateway.emails[0]["subject"] == "Hi" and len(smtp[0].messages) == 1
    gateway.fail = True
    with pytest.raises(DeliveryError, match="message 3 failed: sms to contact 1: Connection"):
        tenant.send_text(mo.id, body="again")
    failed = tenant.messages(mo.id)[0]
    assert (failed.status, failed.error) == ("failed", "ConnectionError: gateway unreachable")
    crm.close()


def test_an_unreachable_smtp_server_is_a_failed_message(ct: Tenant) -> None:
    ct.update_settings({"smtp_port": _free_port()})
    ada = ct.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    with pytest.raises(DeliveryError, match="email to contact 1: ConnectionRefusedError"):
        ct.send_email(ada.id, subject="Hi", body="x")
    assert ct.messages(ada.id)[0].status == "failed"


def test_an_inbound_text_is_an_engagement_event(ct: Tenant) -> None:
    mo = ct.add_contact({"first_name": "Mo", "phone": UK_MOBILE})
    got = ct.receive_text("+447911123456", "Yes, call me")
    assert (got.contact_id, got.direction, got.status) == (mo.id, "in", "received")
    # Rules and scores see it: LeadKlozer scores engagement, the plan adds a reminder.
    assert ct.list_contacts('engaged(event.data.channel == "sms") within 1 days')[0].id == mo.id
    assert [a.title for a in ct.actions(mo.id)] == ["Answer the text"]
    ada = ct.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    mail = ct.receive_email("ada@example.com", "Sounds good", subject="Re: Welcome")
    assert (mail.contact_id, mail.channel, mail.subject) == (ada.id, "email", "Re: Welcome")
    assert [e.detail for e in ct.profile(ada.id).history] == [
        f"channel=email, direction=in, kind=reply, message={mail.id}"
    ]
    with pytest.raises(NotFoundError, match="no contact of tenant 'ct' has the sms"):
        ct.receive_text("07911 123457", "who?")
    with pytest.raises(ValidationError, match="sender: 'abc' is not a phone number"):
        ct.receive_text("abc", "x")


def test_rules_schedule_actions_and_tick_carries_out_those_due(
    ct: Tenant, crm: CRM, clock: FrozenClock, smtp: tuple[Inbox, int]
) -> None:
    ada = ct.add_contact({"first_name": "Ada", "phone": UK_MOBILE, "email": "ada@example.com"})
    lia = ct.add_contact({"first_name": "Lia", "phone": UK_LANDLINE, "email": "lia@example.com"})
    ct.record_event(ada.id, "web_lead")
    ct.record_event(lia.id, "web_lead")
    upcoming = ct.actions(ada.id)
    assert [(a.kind, a.title, a.due_at - clock.now) for a in upcoming] == [
        ("text", "Welcome text", timedelta(0)),
        ("email", "Welcome email", timedelta(0)),
        ("step", "First call", timedelta(days=1)),
    ]
    assert upcoming[0].cause == "clienttether:welcome a web lead"
    summary = ct.tick()
    assert (summary.actions.done, summary.actions.failed) == (3, 1)
    assert "Landline number, SMS not allowed." in summary.actions.errors[0]
    # The text went out for Ada; both got the welcome email over SMTP.
    assert [body for _, _, body in outbox(crm)] == [
        "Hi Ada, thanks for reaching out to Acme Homes! Reply here any time with questions."
    ]
    assert sorted(r[0] for _, r, _ in smtp[0].messages) == ["ada@example.com", "lia@example.com"]
    done = ct.actions(ada.id, include_closed=True)
    assert [(a.title, a.status) for a in done] == [
        ("Welcome text", "done"),
        ("Welcome email", "done"),
        ("First call", "pending"),
    ]
    assert done[0].message_id == ct.messages(ada.id, "sms")[0].id
    history = [h.what for h in ct.profile(lia.id).history]
    assert history.count("action_failed") == 1 and history.count("action_done") == 1
    # A second tick at the same time has nothing left to do.
    assert ct.tick().actions.done == 0
    # A day later the call is due; marking it done chains the plan's next step.
    clock.advance(days=1)
    assert ct.tick().actions.done == 2
    assert [a.title for a in ct.actions(ada.id)] == ["Send a proposal"]
    assert ct.actions(ada.id)[0].due_at == clock.now + timedelta(days=3)


def test_manual_actions_are_checked_listed_and_cancelled(ct: Tenant, crm: CRM) -> None:
    ada = ct.add_contact({"first_name": "Ada", "phone": UK_LANDLINE})
    due = crm.clock() + timedelta(hours=2)
    meeting = ct.schedule_action(ada.id, "appointment", "Site visit", due)
    reminder = ct.schedule_action(ada.id, "reminder", "Bring plans", due - timedelta(hours=1))
    assert [a.id for a in ct.actions(ada.id)] == [reminder.id, meeting.id]
    assert meeting.cause == "manual (api)"
    before = snapshot(crm)
    with pytest.raises(PolicyError, match="texting contact 1 is not allowed: Landline"):
        ct.schedule_action(ada.id, "text", "Nudge", due, body="hi")
    with pytest.raises(ValidationError, match="unknown action kind 'call'"):
        ct.schedule_action(ada.id, "call", "Call", due)
    with pytest.raises(ValidationError, match="a reminder has no message"):
        ct.schedule_action(ada.id, "reminder", "R", due, body="x")
    assert snapshot(crm) == before
    assert ct.cancel_action(meeting.id).status == "cancelled"
    with pytest.raises(PolicyError, match=f"action {meeting.id} is cancelled, not pending"):
        ct.cancel_action(meeting.id)
    ct.delete_contact(ada.id)
    crm.clock.advance(hours=3)  # type: ignore[attr-defined]
    assert ct.tick().actions.cancelled == 1


def test_the_cli_sends_lists_and_schedules(
    db_url: str, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int]
) -> None:
    run = invoker(db_url, monkeypatch, "ct")
    run(
        "init",
        "--packs",
        "clienttether",
        "--setting",
        "phone_region=GB",
        "--setting",
        "smtp_host=127.0.0.1",
        "--setting",
        f"smtp_port={smtp[1]}",
        "--setting",
        "mail_from=team@acme-homes.com",
    )
    run("contact", "add", "--first-name", "Mo", "--phone", UK_MOBILE, "--email", "mo@example.com")
    text = json.loads(run("message", "text", "1", "--body", "hi", "--json"))
    assert text["status"] == "sent"
    run("message", "email", "1", "--subject", "Hello", "--body", "there")
    assert smtp[0].messages[0][2]["Subject"] == "Hello"
    run("message", "receive", "--from", UK_MOBILE, "--body", "thanks")
    listed = json.loads(run("message", "list", "1", "--json"))
    assert [(m["channel"], m["direction"]) for m in listed] == [
        ("sms", "in"),
        ("email", "out"),
        ("sms", "out"),
    ]
    scheduled = json.loads(
        run(
            "action",
            "schedule",
            "1",
            "--kind",
            "text",
            "--title",
            "Follow up",
            "--due",
            "2020-01-01T09:00:00+00:00",
            "--template",
            "clienttether:appointment_reminder.txt.j2",
            "--json",
        )
    )
    assert scheduled["status"] == "pending"
    ticked = json.loads(run("tick", "--json"))
    assert ticked["actions"]["done"] == 2  # the follow-up and the inbound-text reminder
    closed = json.loads(run("action", "list", "--contact", "1", "--all", "--json"))
    follow_up = next(a for a in closed if a["title"] == "Follow up")
    assert follow_up["status"] == "done"
    assert "a reminder from" in json.loads(run("message", "list", "1", "--json"))[0]["body"]
    error = run("message", "text", "1", "--template", "clienttether:nope.j2", code=1)
    assert error.startswith("error: pack clienttether@1.0.0 has no template 'nope.j2'")


# ---------------------------------------------------------------- the operator's SMTP policy


class Logins:
    """An aiosmtpd authenticator that accepts anyone and keeps what each client sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        self.seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The operator's defaults, whatever the environment the tests run in."""
    for name in (PREFIXES_ENV, PLAIN_AUTH_ENV, DEADLINE_ENV, "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _auth_server(tls: ssl.SSLContext | None = None) -> tuple[Controller, Inbox, Logins]:
    inbox, logins = Inbox(), Logins()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=logins,
        # A server that takes AUTH in clear: only the client can keep the password back.
        auth_require_tls=tls is not None,
        tls_context=tls,
        require_starttls=tls is not None,
    )
    controller.start()
    return controller, inbox, logins


@pytest.fixture
def plain_auth_smtp() -> Iterator[tuple[int, Inbox, Logins]]:
    controller, inbox, logins = _auth_server()
    try:
        yield controller.port, inbox, logins
    finally:
        controller.stop()


def _login_settings(port: int, variable: str) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "mail_from": "team@acme-homes.com",
        "smtp_username": "team",
        "smtp_password_env": variable,
    }


def test_auth_is_refused_over_a_plain_connection_unless_the_operator_allows_it(
    crm: CRM, operator_env: pytest.MonkeyPatch, plain_auth_smtp: tuple[int, Inbox, Logins]
) -> None:
    port, inbox, logins = plain_auth_smtp
    operator_env.setenv("CRMKIT_SMTP_PASSWORD", "s3cret")
    tenant = crm.configure_tenant(
        "t", ["clienttether"], _login_settings(port, "CRMKIT_SMTP_PASSWORD")
    )
    ada = tenant.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    before = snapshot(crm)
    with pytest.raises(ConfigError, match="^setting smtp_username: AUTH without TLS is refused"):
        tenant.send_email(ada.id, subject="Hi", body="x")
    assert snapshot(crm) == before
    assert (logins.seen, inbox.messages) == ([], [])
    operator_env.setenv(PLAIN_AUTH_ENV, "1")
    assert tenant.send_email(ada.id, subject="Hi", body="x").status == "sent"
    assert logins.seen == [("team", "s3cret")] and len(inbox.messages) == 1


@pytest.mark.parametrize(
    "variable, prefixes",
    [
        ("CRMKIT_DATABASE_URL", None),
        ("CRMKIT_DATABASE_URL", "CRMKIT_"),  # an operator's prefix that covers it
        ("CRMKIT_DATABASE_URL", "CRMKIT_DATABASE_URL"),
        ("HOME", None),
        ("CRMKIT_SMTP_PASSWORD", ","),  # empty prefixes allow nothing, not everything
    ],
)
def test_a_tenant_cannot_send_the_database_url_or_other_variables_to_its_server(
    crm: CRM,
    db_url: str,
    operator_env: pytest.MonkeyPatch,
    plain_auth_smtp: tuple[int, Inbox, Logins],
    variable: str,
    prefixes: str | None,
) -> None:
    port, inbox, logins = plain_auth_smtp
    operator_env.setenv(PLAIN_AUTH_ENV, "1")  # so only the variable's name is in question
    operator_env.setenv("CRMKIT_DATABASE_URL", db_url)
    operator_env.setenv("CRMKIT_SMTP_PASSWORD", "s3cret")
    if prefixes is not None:
        operator_env.setenv(PREFIXES_ENV, prefixes)
    tenant = crm.configure_tenant("t", ["clienttether"], _login_settings(port, variable))
    ada = tenant.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    before = snapshot(crm)
    refused = f"^setting smtp_password_env: '{variable}' may not be read; the operator allows"
    with pytest.raises(ConfigError, match=refused):
        tenant.send_email(ada.id, subject="Hi", body="x")
    assert snapshot(crm) == before
    assert (logins.seen, inbox.messages) == ([], [])


def test_an_email_action_refused_by_the_policy_fails_without_reaching_the_server(
    crm: CRM,
    db_url: str,
    operator_env: pytest.MonkeyPatch,
    plain_auth_smtp: tuple[int, Inbox, Logins],
) -> None:
    port, inbox, logins = plain_auth_smtp
    operator_env.setenv("CRMKIT_DATABASE_URL", db_url)
    tenant = crm.configure_tenant(
        "t", ["clienttether"], _login_settings(port, "CRMKIT_DATABASE_URL")
    )
    ada = tenant.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    tenant.schedule_action(ada.id, "email", "Hello", crm.clock(), subject="Hi", body="x")
    summary = tenant.tick()
    assert summary.actions.failed == 1
    assert "setting smtp_username: AUTH without TLS is refused" in summary.actions.errors[0]
    operator_env.setenv(PLAIN_AUTH_ENV, "1")
    tenant.schedule_action(ada.id, "email", "Again", crm.clock(), subject="Hi", body="x")
    assert "'CRMKIT_DATABASE_URL' may not be read" in tenant.tick().actions.errors[0]
    history = [h.what for h in tenant.profile(ada.id).history]
    assert history == ["action_failed", "action_failed"]
    assert (logins.seen, inbox.messages) == ([], [])


def test_the_cli_refuses_to_read_the_database_url_in_one_line(
    db_url: str, monkeypatch: pytest.MonkeyPatch, plain_auth_smtp: tuple[int, Inbox, Logins]
) -> None:
    port, inbox, logins = plain_auth_smtp
    run = invoker(db_url, monkeypatch, "ct")  # sets CRMKIT_DATABASE_URL, as an operator does
    monkeypatch.setenv(PLAIN_AUTH_ENV, "1")
    monkeypatch.delenv(PREFIXES_ENV, raising=False)
    settings = _login_settings(port, "CRMKIT_DATABASE_URL")
    run("init", "--packs", "clienttether", *(f"--setting={k}={v}" for k, v in settings.items()))
    run("contact", "add", "--first-name", "Mo", "--email", "mo@example.com")
    error = run("message", "email", "1", "--subject", "Hello", "--body", "there", code=1)
    assert error.startswith("error: setting smtp_password_env: 'CRMKIT_DATABASE_URL' may not")
    assert len(error.strip().splitlines()) == 1 and db_url not in error
    assert (logins.seen, inbox.messages) == ([], [])


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the STARTTLS server")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_auth_goes_over_starttls_to_a_verified_server_only(
    crm: CRM, tmp_path: Path, operator_env: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    controller, inbox, logins = _auth_server(tls)
    try:
        operator_env.setenv("CRMKIT_SMTP_PASSWORD", "s3cret")
        settings = _login_settings(controller.port, "CRMKIT_SMTP_PASSWORD")
        tenant = crm.configure_tenant("t", ["clienttether"], {**settings, "smtp_starttls": True})
        ada = tenant.add_contact({"first_name": "Ada", "email": "ada@example.com"})
        # A certificate nobody vouches for could be anyone's in between: no password.
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            tenant.send_email(ada.id, subject="Hi", body="x")
        assert logins.seen == []
        operator_env.setenv("SSL_CERT_FILE", str(cert))
        assert tenant.send_email(ada.id, subject="Hi", body="x").status == "sent"
        assert logins.seen == [("team", "s3cret")] and len(inbox.messages) == 1
    finally:
        controller.stop()


# ---------------------------------------------------------------- one deadline per send


def test_a_trickling_smtp_server_fails_the_send_within_the_deadline(
    ct: Tenant, operator_env: pytest.MonkeyPatch
) -> None:
    operator_env.setenv(DEADLINE_ENV, "2")
    ada = ct.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    with trickling_server(interval=1.0, limit=30.0) as server:
        ct.update_settings({"smtp_port": server.port})
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="did not finish within the 2 s deadline"):
            ct.send_email(ada.id, subject="Hi", body="x")
        took = time.monotonic() - started
        assert server.connections == 1
    assert took < 2 + 2.5, f"the send took {took:.1f} s"
    failed = ct.messages(ada.id)[0]
    assert failed.status == "failed"
    assert failed.error == (
        f"TimeoutError: the SMTP server 127.0.0.1:{server.port} did not finish within "
        f"the 2 s deadline ({DEADLINE_ENV})"
    )


def test_a_bad_deadline_is_refused_before_anything_is_written(
    ct: Tenant, crm: CRM, operator_env: pytest.MonkeyPatch
) -> None:
    ada = ct.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    before = snapshot(crm)
    for bad in ("soon", "0", "-3", "601"):  # above 10 minutes a claim could lapse mid-send
        operator_env.setenv(DEADLINE_ENV, bad)
        with pytest.raises(ConfigError, match=f"^environment variable {DEADLINE_ENV}='{bad}' is"):
            ct.send_email(ada.id, subject="Hi", body="x")
    assert snapshot(crm) == before
