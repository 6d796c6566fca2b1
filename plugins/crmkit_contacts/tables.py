"""The contacts pack's tables: segments (saved searches) and groups, in crmkit's metadata.

Its migrations are the ``contacts`` branch in ``migrations/`` (see
``migrations/contacts_0001_adopt_segments.py`` and ``contacts_0002_adopt_groups.py`` for
how the branch took over tables crmkit's core migrations had made).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crmkit.plugin_api import Base, UTCDateTime


class SegmentRow(Base):
    """A saved filter (a condition on contacts), evaluated each time it is used."""

    __tablename__ = "segments"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    condition: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"SegmentRow({self.name!r}: {self.condition!r})"


class GroupRow(Base):
    """A named set of contacts, chosen by hand or added from a filter."""

    __tablename__ = "contact_groups"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    def __repr__(self) -> str:
        return f"GroupRow({self.id!r}, {self.name!r})"


class GroupMemberRow(Base):
    __tablename__ = "group_members"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["contact_groups.tenant_id", "contact_groups.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        Index(None, "tenant_id", "contact_id"),
    )

    def __repr__(self) -> str:
        return f"GroupMemberRow({self.group_id!r}, {self.contact_id!r})"
