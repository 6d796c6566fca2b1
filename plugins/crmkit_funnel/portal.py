"""Portal logins: usernames, set-password tokens and passwords.

Secrets are stored only as salted scrypt hashes (``scrypt$n$r$p$salt$hash``). A
set-password token is single-use and expires; issuing a new one replaces the old. The
raw token exists only in the return value (or notice) of the call that issued it.

Usernames compare without case (casefolded keys). A login costs one scrypt of the
password cost whether the username exists or not, and :data:`MAX_FAILURES` failures for
one username within :data:`FAILURE_WINDOW` lock it for :data:`LOCKOUT`, known or not,
so neither the time taken nor a lockout tells which usernames exist. The counts are
stored in the database (every process sees them) and timed by the CRM's clock.
Archived contacts may not log in: archiving revokes the password and any token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_

from crmkit.plugin_api import (
    ContactRow,
    NotFoundError,
    PolicyError,
    Setting,
    Tenant,
    TenantScope,
    ValidationError,
)
from crmkit_funnel.tables import PortalCredentialRow, PortalLoginFailureRow

# Passwords get the recommended interactive scrypt cost. Tokens are 256 random bits, so a
# lighter (still salted, still memory-hard) cost keeps bulk conversions fast.
PASSWORD_COST = 2**14
TOKEN_COST = 2**10
MIN_PASSWORD_LENGTH = 8
# Long enough for any passphrase; bounds the work one login attempt can cause.
MAX_PASSWORD_LENGTH = 256
USERNAME_LIMIT = 320
DEFAULT_TOKEN_HOURS = 72
# Declared by the funnel plugin, whose role changes issue the tokens.
TOKEN_HOURS = Setting(
    "portal_token_hours", "number", 1, 8760, "hours", "how long a portal invitation lasts"
)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)

_PC = PortalCredentialRow.__table__.c
_PF = PortalLoginFailureRow.__table__.c


def hash_secret(secret: str, cost: int = PASSWORD_COST) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=cost, r=8, p=1, dklen=32)
    encode = base64.b64encode
    return f"scrypt${cost}$8$1${encode(salt).decode()}${encode(digest).decode()}"


def verify_secret(secret: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return kind == "scrypt" and hmac.compare_digest(actual, expected)


def _dummy_hash(cost: int) -> str:
    """A well-formed hash that no secret matches, checked when there is no real one so
    that an unknown username costs the same scrypt work as a known one. Built without
    running scrypt, so importing the module stays cheap."""
    encode = base64.b64encode
    salt = encode(secrets.token_bytes(16)).decode()
    return f"scrypt${cost}$8$1${salt}${encode(bytes(32)).decode()}"


_DUMMY_PASSWORD_HASH = _dummy_hash(PASSWORD_COST)
_DUMMY_TOKEN_HASH = _dummy_hash(TOKEN_COST)


def username_key(username: str) -> str:
    """What a username is looked up by: without surrounding spaces, casefolded."""
    return username.strip().casefold()


def _checked_key(username: str) -> str:
    key = username_key(username)
    if not key:
        raise ValidationError("a portal username cannot be empty")
    if len(key) > USERNAME_LIMIT:
        raise ValidationError(f"a portal username has at most {USERNAME_LIMIT} characters")
    return key


def check_password(password: str) -> None:
    """Refuse a password too short, too long, or made of spaces, saying which."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters "
            f"(this one has {len(password)})"
        )
    if not password.strip():
        raise ValidationError("a password cannot be only spaces")
    visible = sum(not ch.isspace() for ch in password)
    if visible < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters other than spaces "
            f"(this one has {visible})"
        )


def revoke_login(conn: Connection, scope: TenantScope, contact_id: int) -> None:
    """Forget a contact's password and token, in the caller's transaction: it may log in
    again only after a new invitation. The username stays reserved for it."""
    conn.execute(
        scope.update(PortalCredentialRow)
        .where(_PC.contact_id == contact_id)
        .values(password_hash=None, token_hash=None, token_expires_at=None)
    )


def find_login(conn: Connection, scope: TenantScope, username: str) -> Any:
    """The credentials row a username logs in to, without case, or None. A login whose
    key another login took before keys existed is found by its exact username."""
    key = username_key(username)
    legacy = and_(_PC.username_key.is_(None), _PC.username == username)
    rows = (
        conn.execute(
            scope.select(PortalCredentialRow.__table__).where(or_(_PC.username_key == key, legacy))
        )
        .mappings()
        .all()
    )
    exact = [row for row in rows if row["username"] == username]
    return next(iter(exact or rows), None)


def _username_base(first: str, last: str, email: str | None) -> str:
    if email:
        return username_key(email)
    base = ".".join(part for part in (first, last) if part).casefold()
    return re.sub(r"[^a-z0-9._-]+", "", base) or "user"


def _taken_keys(conn: Connection, scope: TenantScope, base: str) -> set[str]:
    """The keys of usernames that start like ``base`` (LIKE may match more: harmless)."""
    rows = conn.execute(
        scope.select(_PC.username, _PC.username_key).where(
            or_(_PC.username_key.like(f"{base}%"), _PC.username_key.is_(None))
        )
    ).all()
    return {key or username_key(name) for name, key in rows}


def create_credentials(
    conn: Connection, scope: TenantScope, contact_id: int, now: datetime, token_hours: float
) -> tuple[str, str, datetime] | None:
    """Give a contact a username and a set-password token, in the caller's transaction.

    Returns ``(username, raw token, expiry)``, or None if the contact already has
    credentials or is archived (an archived contact gets no login).
    """
    if conn.execute(scope.select(_PC.contact_id).where(_PC.contact_id == contact_id)).first():
        return None
    c = ContactRow.__table__.c
    row = conn.execute(
        scope.select(c.first_name, c.last_name, c.email, c.archived).where(c.id == contact_id)
    ).first()
    if row is None:
        raise NotFoundError(f"contact {contact_id} does not exist")
    if row[3]:
        return None
    base = _username_base(row[0], row[1], row[2])
    taken = _taken_keys(conn, scope, base)
    username, suffix = base, 1
    while username in taken:
        suffix += 1
        username = f"{base}{suffix}"
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=token_hours)
    conn.execute(
        scope.insert(PortalCredentialRow),
        scope.rows(
            [
                {
                    "contact_id": contact_id,
                    "username": username,
                    "username_key": username,
                    "password_hash": None,
                    "token_hash": hash_secret(token, TOKEN_COST),
                    "token_expires_at": expires,
                    "created_at": now,
                }
            ]
        ),
    )
    return username, token, expires


class Portal:
    """A tenant's portal logins. ``may_log_in`` decides who may use them (the funnel
    plugin: prospects and clients, not archived)."""

    def __init__(self, tenant: Tenant, roles_allowed: tuple[str, ...] = ("prospect", "client")):
        self.tenant = tenant
        self.roles_allowed = roles_allowed

    def _token_hours(self) -> float:
        return float(TOKEN_HOURS.read(self.tenant.settings(), DEFAULT_TOKEN_HOURS))

    def _row(self, conn: Connection, scope: TenantScope, **where: Any) -> Any:
        stmt = scope.select(PortalCredentialRow.__table__)
        for column, value in where.items():
            stmt = stmt.where(_PC[column] == value)
        return conn.execute(stmt).mappings().first()

    def status(self, contact_id: int) -> dict[str, Any]:
        """Whether the contact may log in, and why not."""
        contact = self.tenant.get_contact(contact_id)
        role = contact.facets.get("role")
        with self.tenant.crm.db.connect() as conn:
            scope = TenantScope(self.tenant.runtime(conn).tenant_id)
            row = self._row(conn, scope, contact_id=contact_id)
        reason = None
        if role is None:
            reason = "the tenant does not use the funnel pack (no role facet)"
        elif contact.archived:
            reason = "the contact is archived"
        elif role not in self.roles_allowed:
            reason = f"a {role} has no portal login"
        elif row is None:
            reason = "no portal credentials yet"
        elif row["password_hash"] is None:
            reason = "the password has not been set yet"
        return {
            "contact": contact_id,
            "role": role,
            "username": row["username"] if row else None,
            "password_set": bool(row and row["password_hash"]),
            "may_log_in": reason is None,
            "reason": reason,
        }

    def may_log_in(self, contact_id: int) -> bool:
        return bool(self.status(contact_id)["may_log_in"])

    def invite(self, contact_id: int) -> dict[str, Any]:
        """Issue a fresh set-password token (the old one stops working); return it once."""
        contact = self.tenant.get_contact(contact_id)
        role = contact.facets.get("role")
        if contact.archived:
            raise PolicyError(
                f"contact {contact_id} is archived: it cannot be invited to the portal "
                "(restore it first)"
            )
        if role not in self.roles_allowed:
            raise PolicyError(f"contact {contact_id} is a {role}: a {role} has no portal login")
        now = self.tenant.crm.clock()
        with self.tenant.crm.db.begin() as conn:
            scope = TenantScope(self.tenant.write_runtime(conn).tenant_id)
            created = create_credentials(conn, scope, contact_id, now, self._token_hours())
            if created is not None:
                username, token, expires = created
            else:
                token = secrets.token_urlsafe(32)
                expires = now + timedelta(hours=self._token_hours())
                conn.execute(
                    scope.update(PortalCredentialRow)
                    .where(_PC.contact_id == contact_id)
                    .values(token_hash=hash_secret(token, TOKEN_COST), token_expires_at=expires)
                )
                username = self._row(conn, scope, contact_id=contact_id)["username"]
        return {"contact": contact_id, "username": username, "token": token, "expires_at": expires}

    def set_password(self, username: str, token: str, password: str) -> int:
        """Set the password with a valid token (which is then used up); return the contact."""
        _checked_key(username)
        check_password(password)
        now = self.tenant.crm.clock()
        with self.tenant.crm.db.begin() as conn:
            scope = TenantScope(self.tenant.write_runtime(conn).tenant_id)
            row = find_login(conn, scope, username)
            stored = row["token_hash"] if row is not None else None
            if not verify_secret(token, stored or _DUMMY_TOKEN_HASH) or stored is None:
                raise PolicyError("invalid or already used set-password token")
            if row["token_expires_at"] is None or row["token_expires_at"] <= now:
                raise PolicyError("the set-password token has expired; ask for a new invitation")
            conn.execute(
                scope.update(PortalCredentialRow)
                .where(_PC.contact_id == row["contact_id"])
                .values(password_hash=hash_secret(password), token_hash=None, token_expires_at=None)
            )
            return int(row["contact_id"])

    def authenticate(self, username: str, password: str) -> int:
        """The contact id for a correct username and password of a contact who may log in;
        :class:`PolicyError` otherwise (the same message for unknown user and bad password,
        and a lockout after :data:`MAX_FAILURES` failures, for known and unknown alike)."""
        key = _checked_key(username)
        now = self.tenant.crm.clock()
        with self.tenant.crm.db.connect() as conn:
            scope = TenantScope(self.tenant.runtime(conn).tenant_id)
            counted = conn.execute(
                scope.select(_PF.locked_until).where(_PF.username_key == key)
            ).first()
            locked = counted[0] if counted is not None else None
            if locked is not None and locked > now:
                raise PolicyError(_locked_message(username, locked))
            row = find_login(conn, scope, username)
        stored = row["password_hash"] if row is not None else None
        # Always one scrypt of the password cost, also for an unknown username.
        candidate = password if len(password) <= MAX_PASSWORD_LENGTH else ""
        matched = verify_secret(candidate, stored or _DUMMY_PASSWORD_HASH)
        if not (matched and stored is not None and candidate == password):
            until = self._count_failure(key, now)
            message = "wrong username or password"
            raise PolicyError(
                f"{message}; {_locked_message(username, until)}" if until else message
            )
        if counted is not None:
            self._forget_failures(key)
        contact_id = int(row["contact_id"])
        status = self.status(contact_id)
        if not status["may_log_in"]:
            raise PolicyError(f"contact {contact_id} may not log in: {status['reason']}")
        return contact_id

    def _count_failure(self, key: str, now: datetime) -> datetime | None:
        """Count a failed login of ``key``; return when its lock ends if it is now locked."""
        with self.tenant.crm.db.begin() as conn:
            # The tenant's write lock: failures from processes at once all count.
            scope = TenantScope(self.tenant.write_runtime(conn).tenant_id)
            row = conn.execute(
                scope.select(_PF.failures, _PF.first_failed_at).where(_PF.username_key == key)
            ).first()
            values = _after_failure(row[0] if row else 0, row[1] if row else None, now)
            until: datetime | None = values["locked_until"]
            if row is None:
                conn.execute(
                    scope.insert(PortalLoginFailureRow),
                    scope.rows([{"username_key": key, **values}]),
                )
            else:
                conn.execute(
                    scope.update(PortalLoginFailureRow)
                    .where(_PF.username_key == key)
                    .values(**values)
                )
            _prune_failures(conn, scope, now)
        return until

    def _forget_failures(self, key: str) -> None:
        with self.tenant.crm.db.begin() as conn:
            scope = TenantScope(self.tenant.write_runtime(conn).tenant_id)
            conn.execute(scope.delete(PortalLoginFailureRow).where(_PF.username_key == key))


def _after_failure(failures: int, first: datetime | None, now: datetime) -> dict[str, Any]:
    """A username's counts after one more failure: a failure older than the window
    starts the count again; the last one allowed locks it (and the count restarts)."""
    if first is None or first <= now - FAILURE_WINDOW:
        failures, first = 0, now
    failures += 1
    if failures >= MAX_FAILURES:
        return {"failures": 0, "first_failed_at": None, "locked_until": now + LOCKOUT}
    return {"failures": failures, "first_failed_at": first, "locked_until": None}


def _locked_message(username: str, until: datetime) -> str:
    return f"too many failed logins for {username!r}: locked until {until:%Y-%m-%d %H:%M:%S} UTC"


def _prune_failures(conn: Connection, scope: TenantScope, now: datetime) -> None:
    """Drop counts that no longer matter, so guessed usernames do not pile up."""
    conn.execute(
        scope.delete(PortalLoginFailureRow).where(
            or_(_PF.locked_until.is_(None), _PF.locked_until <= now),
            or_(_PF.first_failed_at.is_(None), _PF.first_failed_at <= now - FAILURE_WINDOW),
        )
    )


def forget_username(conn: Connection, scope: TenantScope, username: str) -> None:
    """Drop the failed-login counts kept under a username (it may be an email)."""
    conn.execute(
        scope.delete(PortalLoginFailureRow).where(_PF.username_key == username_key(username))
    )


def forget_logins(conn: Connection, scope: TenantScope, contact_id: int, email: str | None) -> None:
    """Drop failed-login counts under the contact's username and email (erasing it)."""
    username = conn.scalar(scope.select(_PC.username).where(_PC.contact_id == contact_id))
    for name in (username, email):
        if name:
            forget_username(conn, scope, name)
