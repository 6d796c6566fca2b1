"""Portal logins: usernames, set-password tokens and passwords.

Secrets are stored only as salted scrypt hashes (``scrypt$n$r$p$salt$hash``). A
set-password token is single-use and expires; issuing a new one replaces the old. The
raw token exists only in the return value (or notice) of the call that issued it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from crmkit.errors import NotFoundError, PolicyError, ValidationError
from crmkit.settings import Setting
from crmkit.storage.models import ContactRow, PortalCredentialRow
from crmkit.storage.scope import TenantScope

if TYPE_CHECKING:
    from crmkit.tenant import Tenant

# Passwords get the recommended interactive scrypt cost. Tokens are 256 random bits, so a
# lighter (still salted, still memory-hard) cost keeps bulk conversions fast.
PASSWORD_COST = 2**14
TOKEN_COST = 2**10
MIN_PASSWORD_LENGTH = 8
DEFAULT_TOKEN_HOURS = 72
# Declared by the funnel plugin, whose role changes issue the tokens.
TOKEN_HOURS = Setting(
    "portal_token_hours", "number", 1, 8760, "hours", "how long a portal invitation lasts"
)


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


def _username_base(first: str, last: str, email: str | None) -> str:
    if email:
        return email.lower()
    base = ".".join(part for part in (first, last) if part).lower()
    return re.sub(r"[^a-z0-9._-]+", "", base) or "user"


def create_credentials(
    conn: Connection, scope: TenantScope, contact_id: int, now: datetime, token_hours: float
) -> tuple[str, str, datetime] | None:
    """Give a contact a username and a set-password token, in the caller's transaction.

    Returns ``(username, raw token, expiry)``, or None if the contact already has
    credentials.
    """
    pc = PortalCredentialRow.__table__.c
    if conn.execute(scope.select(pc.contact_id).where(pc.contact_id == contact_id)).first():
        return None
    c = ContactRow.__table__.c
    row = conn.execute(
        scope.select(c.first_name, c.last_name, c.email).where(c.id == contact_id)
    ).first()
    if row is None:
        raise NotFoundError(f"contact {contact_id} does not exist")
    base = _username_base(row[0], row[1], row[2])
    taken = set(conn.scalars(scope.select(pc.username).where(pc.username.like(f"{base}%"))))
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
    plugin: prospects and clients)."""

    def __init__(self, tenant: Tenant, roles_allowed: tuple[str, ...] = ("prospect", "client")):
        self.tenant = tenant
        self.roles_allowed = roles_allowed

    def _token_hours(self) -> float:
        return float(TOKEN_HOURS.read(self.tenant.settings(), DEFAULT_TOKEN_HOURS))

    def _row(self, conn: Connection, scope: TenantScope, **where: Any) -> Any:
        pc = PortalCredentialRow.__table__.c
        stmt = scope.select(PortalCredentialRow.__table__)
        for column, value in where.items():
            stmt = stmt.where(pc[column] == value)
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
                pc = PortalCredentialRow.__table__.c
                conn.execute(
                    scope.update(PortalCredentialRow)
                    .where(pc.contact_id == contact_id)
                    .values(token_hash=hash_secret(token, TOKEN_COST), token_expires_at=expires)
                )
                username = self._row(conn, scope, contact_id=contact_id)["username"]
        return {"contact": contact_id, "username": username, "token": token, "expires_at": expires}

    def set_password(self, username: str, token: str, password: str) -> int:
        """Set the password with a valid token (which is then used up); return the contact."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        now = self.tenant.crm.clock()
        with self.tenant.crm.db.begin() as conn:
            scope = TenantScope(self.tenant.write_runtime(conn).tenant_id)
            row = self._row(conn, scope, username=username)
            if row is None or not verify_secret(token, row["token_hash"]):
                raise PolicyError("invalid or already used set-password token")
            if row["token_expires_at"] is None or row["token_expires_at"] <= now:
                raise PolicyError("the set-password token has expired; ask for a new invitation")
            pc = PortalCredentialRow.__table__.c
            conn.execute(
                scope.update(PortalCredentialRow)
                .where(pc.contact_id == row["contact_id"])
                .values(password_hash=hash_secret(password), token_hash=None, token_expires_at=None)
            )
            return int(row["contact_id"])

    def authenticate(self, username: str, password: str) -> int:
        """The contact id for a correct username and password of a contact who may log in;
        :class:`PolicyError` otherwise (the same message for unknown user and bad password)."""
        with self.tenant.crm.db.connect() as conn:
            scope = TenantScope(self.tenant.runtime(conn).tenant_id)
            row = self._row(conn, scope, username=username)
        if row is None or not verify_secret(password, row["password_hash"]):
            raise PolicyError("wrong username or password")
        status = self.status(int(row["contact_id"]))
        if not status["may_log_in"]:
            raise PolicyError(f"contact {row['contact_id']} may not log in: {status['reason']}")
        return int(row["contact_id"])
