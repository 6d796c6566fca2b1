"""crmkit's default transports, which :mod:`crmkit.default_transports` plugs in last,
for when no other plugin's ``crmkit_send_*`` hook answers.

Email goes over SMTP with the standard library, configured by tenant settings:
``smtp_host`` (required), ``smtp_port`` (25), ``smtp_starttls`` (false),
``smtp_username`` and ``smtp_password_env`` (the name of the environment variable that
holds the password, so no secret sits in the database), and ``mail_from``.
Texts go to the ``sms_outbox`` table, for a gateway process to pick up.

What a tenant may ask of the server is bounded by the operator, in the environment of
the process (never in tenant settings, which a tenant edits):

- ``CRMKIT_SECRET_ENV_PREFIXES``: comma-separated prefixes of the variables
  ``smtp_password_env`` may name (default ``CRMKIT_SMTP_``). The database URL and
  these policy variables are never readable, whatever the prefixes.
- ``CRMKIT_SMTP_ALLOW_PLAIN_AUTH``: ``1`` lets AUTH go over a connection without
  STARTTLS (default: refused, the password would cross the network in clear).
- ``CRMKIT_SMTP_DEADLINE``: seconds one whole SMTP conversation may take (default 30).
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from email_validator import EmailNotValidError
from sqlalchemy import Connection

from crmkit.emails import normalize_email
from crmkit.errors import ConfigError
from crmkit.storage.models import SmsOutboxRow
from crmkit.storage.scope import TenantScope

# The longest one socket operation may wait; the deadline bounds the whole conversation.
SMTP_TIMEOUT = 30
PREFIXES_ENV = "CRMKIT_SECRET_ENV_PREFIXES"
PLAIN_AUTH_ENV = "CRMKIT_SMTP_ALLOW_PLAIN_AUTH"
DEADLINE_ENV = "CRMKIT_SMTP_DEADLINE"
DEFAULT_PREFIXES = ("CRMKIT_SMTP_",)
DEFAULT_DEADLINE = 30.0
# Below crmkit.upcoming.LEASE (15 minutes), so a send still under way keeps its claim.
MAX_DEADLINE = 600.0
# Readable by no tenant whatever the operator's prefixes: they open the database or
# would let a tenant read the policy that binds it.
NEVER_READABLE = frozenset(
    {"CRMKIT_DATABASE_URL", "CRMKIT_TEST_POSTGRES_URL", PREFIXES_ENV, PLAIN_AUTH_ENV, DEADLINE_ENV}
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class SmtpPolicy:
    """The operator's bounds on the default SMTP transport (see the module docs)."""

    secret_prefixes: tuple[str, ...] = DEFAULT_PREFIXES
    plain_auth: bool = False
    deadline: float = DEFAULT_DEADLINE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpPolicy:
        env = os.environ if environ is None else environ
        return cls(
            secret_prefixes=_prefixes(env.get(PREFIXES_ENV)),
            plain_auth=_switch(env.get(PLAIN_AUTH_ENV)),
            deadline=_deadline(env.get(DEADLINE_ENV)),
        )

    def may_read(self, variable: str) -> bool:
        if variable in NEVER_READABLE or "DATABASE_URL" in variable:
            return False
        return any(variable.startswith(prefix) for prefix in self.secret_prefixes)


def _prefixes(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_PREFIXES
    # An empty entry would be a prefix of every variable: it is dropped, not obeyed.
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _switch(raw: str | None) -> bool:
    value = (raw or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"environment variable {PLAIN_AUTH_ENV}={raw!r} is not 1 or 0")


def _deadline(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return DEFAULT_DEADLINE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_DEADLINE:
        raise ConfigError(
            f"environment variable {DEADLINE_ENV}={raw!r} is not a number of seconds "
            f"(above 0, at most {MAX_DEADLINE:g})"
        )
    return seconds


def mail_from(settings: Mapping[str, Any]) -> str:
    """The tenant's sender address (setting ``mail_from``), checked."""
    sender = settings.get("mail_from")
    if not sender:
        raise ConfigError("email is not set up: set the tenant setting mail_from")
    try:
        return normalize_email(str(sender))
    except EmailNotValidError as exc:
        raise ConfigError(f"setting mail_from {sender!r} is not an email address: {exc}") from None


def smtp_credentials(
    settings: Mapping[str, Any], policy: SmtpPolicy | None = None
) -> tuple[str, str] | None:
    """(username, password) to log in with, or None without ``smtp_username``; a
    ConfigError naming the setting when the operator's policy refuses them. Nothing is
    read from the environment before the policy allows it, so a refusal tells a tenant
    nothing about which variables exist."""
    policy = policy or SmtpPolicy.from_env()
    username = settings.get("smtp_username")
    if not username:
        return None
    if not settings.get("smtp_starttls") and not policy.plain_auth:
        raise ConfigError(
            "setting smtp_username: AUTH without TLS is refused (the password would go in "
            f"clear); set smtp_starttls to true, or the operator allows it with {PLAIN_AUTH_ENV}=1"
        )
    variable = str(settings.get("smtp_password_env") or "")
    if variable and not policy.may_read(variable):
        allowed = ", ".join(policy.secret_prefixes) or "none"
        raise ConfigError(
            f"setting smtp_password_env: {variable!r} may not be read; the operator allows "
            f"variables starting with {allowed} ({PREFIXES_ENV})"
        )
    password = os.environ.get(variable) if variable else None
    if password is None:
        raise ConfigError(
            "setting smtp_username needs smtp_password_env, the name of a set "
            "environment variable holding the password"
        )
    return str(username), password


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    starttls: bool
    credentials: tuple[str, str] | None


def smtp_target(settings: Mapping[str, Any], policy: SmtpPolicy) -> SmtpTarget:
    """Where and how to connect, from the tenant's settings, checked."""
    host = settings.get("smtp_host")
    if not host:
        raise ConfigError("email is not set up: set the tenant setting smtp_host")
    try:
        port = int(settings.get("smtp_port") or 25)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting smtp_port {settings.get('smtp_port')!r} is not a port"
        ) from None
    return SmtpTarget(
        str(host), port, bool(settings.get("smtp_starttls")), smtp_credentials(settings, policy)
    )


class DeadlineSMTP(smtplib.SMTP):
    """smtplib with one deadline over the whole conversation.

    smtplib's timeout bounds each socket read, so a server that trickles a byte now and
    then holds a sender for ever. Here a watchdog shuts the socket down when the deadline
    passes, which wakes the blocked read; :attr:`expired` tells that apart from the
    server closing it.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._ends = time.monotonic() + deadline
        self._expired = threading.Event()
        super().__init__(timeout=min(SMTP_TIMEOUT, deadline))
        self._watchdog = threading.Timer(deadline, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    @property
    def expired(self) -> bool:
        return self._expired.is_set()

    def _expire(self) -> None:
        self._expired.set()
        sock = self.sock
        if sock is not None:
            # The plain socket's shutdown, also under TLS: SSLSocket.shutdown would drop
            # the TLS state under the reading thread.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        # smtplib only takes the host from its constructor, and STARTTLS checks the
        # server's certificate against it.
        self._host = host
        return super().connect(host, port, source_address)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        left = max(self._ends - time.monotonic(), 0.001)
        # What smtplib does, with what is left of the deadline as the connect timeout.
        sock = socket.create_connection((host, port), min(timeout, left), self.source_address)
        if self.expired:  # the watchdog fired while connecting, before self.sock was set
            sock.close()
            raise TimeoutError("connecting took the whole deadline")
        return sock

    def stop_watchdog(self) -> None:
        self._watchdog.cancel()


def smtp_send(
    settings: Mapping[str, Any], message: Mapping[str, Any], policy: SmtpPolicy | None = None
) -> str:
    """Send one email over SMTP; return its Message-ID. Policy refusals are raised
    before any connection is made."""
    policy = policy or SmtpPolicy.from_env()
    target = smtp_target(settings, policy)
    email = _email(message)
    smtp = DeadlineSMTP(policy.deadline)
    try:
        _converse(smtp, target, email)
    except (OSError, smtplib.SMTPException):
        if smtp.expired:
            raise TimeoutError(
                f"the SMTP server {target.host}:{target.port} did not finish within the "
                f"{policy.deadline:g} s deadline ({DEADLINE_ENV})"
            ) from None
        raise
    finally:
        smtp.stop_watchdog()
    return str(email["Message-ID"])


def _email(message: Mapping[str, Any]) -> EmailMessage:
    email = EmailMessage()
    email["From"] = message["from"]
    email["To"] = message["to"]
    email["Subject"] = message["subject"]
    email["Message-ID"] = make_msgid(domain=str(message["from"]).rpartition("@")[2])
    email.set_content(message["body"])
    return email


def _converse(smtp: DeadlineSMTP, target: SmtpTarget, email: EmailMessage) -> None:
    with smtp:
        smtp.connect(target.host, target.port)
        if target.starttls:
            # Verified against the system's CAs (SSL_CERT_FILE points elsewhere): an
            # unverified TLS would hand the password to whoever sits in between.
            smtp.starttls(context=ssl.create_default_context())
        if target.credentials is not None:
            smtp.login(*target.credentials)
        smtp.send_message(email)


class SmsOutbox:
    """A text's place in the ``sms_outbox`` table, for ``crmkit_send_sms``.

    :meth:`queue` only takes note: the row is written in the transaction that marks the
    message sent (:func:`outbox_send`), so a message and its outbox row are kept or lost
    together.
    """

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.queued = False

    def queue(self) -> str:
        """Leave the text for a gateway; return its reference."""
        self.queued = True
        return outbox_reference(self.message_id)


def outbox_reference(message_id: int) -> str:
    return f"outbox:{message_id}"


def outbox_send(conn: Connection, tenant_id: int, message: Mapping[str, Any], now: datetime) -> str:
    """Queue a text in ``sms_outbox``; return its reference."""
    scope = TenantScope(tenant_id)
    conn.execute(
        scope.insert(SmsOutboxRow),
        scope.rows(
            [
                {
                    "message_id": message["id"],
                    "contact_id": message["contact_id"],
                    "to_number": message["to"],
                    "body": message["body"],
                    "queued_at": now,
                }
            ]
        ),
    )
    return outbox_reference(message["id"])
