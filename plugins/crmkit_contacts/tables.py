"""The contacts pack's table: segments (saved searches), in crmkit's metadata.

Its migrations are the ``contacts`` branch in ``migrations/`` (see
``migrations/contacts_0001_adopt_segments.py`` for how the branch took over a table
crmkit's core migrations had made).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
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
