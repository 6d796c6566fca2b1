"""The funnel pack's tables: portal credentials and failed-login counts, in crmkit's
metadata.

Their migrations are the ``funnel`` branch in ``migrations/`` (see
``migrations/funnel_0001_adopt_portal_tables.py`` for how the branch took over tables
crmkit's core migrations had made).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crmkit.plugin_api import Base, UTCDateTime


class PortalCredentialRow(Base):
    """A contact's portal login. Passwords and set-password tokens are stored only as
    salted scrypt hashes; a token is single-use and expires."""

    __tablename__ = "portal_credentials"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(320))
    # The casefolded username logins look up. Null only for a login made before keys
    # existed whose key another login already had: it logs in by its exact username.
    username_key: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    token_hash: Mapped[str | None] = mapped_column(String(300))
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        UniqueConstraint("tenant_id", "username"),
        UniqueConstraint("tenant_id", "username_key"),
    )

    def __repr__(self) -> str:
        return f"PortalCredentialRow({self.contact_id!r}, {self.username!r})"


class PortalLoginFailureRow(Base):
    """Recent failed portal logins of one username key, known or not (so a lockout
    tells nothing about which usernames exist)."""

    __tablename__ = "portal_login_failures"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    username_key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"PortalLoginFailureRow({self.username_key!r}, {self.failures!r})"
