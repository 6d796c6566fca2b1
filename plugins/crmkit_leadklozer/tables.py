"""The leadklozer pack's tables: what the Smart Score needs to move forward in time.

The tick advances each contact's score from these rows instead of reading the event
log again (see :mod:`crmkit_leadklozer.score_state`):

* ``leadklozer_score_clocks``: per tenant, the moment the parts are valued at (the last
  tick), the last event sequence number taken into them, and the scoring table's
  fingerprint;
* ``leadklozer_score_parts``: per contact and half-life class, the exact value of its
  engagement points at that moment, and how much of it the stored score holds;
* ``leadklozer_score_due``: points that change on a date, found by a range scan of the
  ``(tenant_id, due_at)`` index: expiring points leave, and points of an engagement
  dated after the tick that took it in start to decay.

Their migrations are the ``leadklozer`` branch in ``migrations/``. The index over the
core ``events`` table by sequence number is the pack's too: it serves the tick's read
of the events recorded since the last one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crmkit.plugin_api import Base, EventRow, UTCDateTime


class ScoreClockRow(Base):
    """Where a tenant's score parts stand: valued at ``at``, events taken in up to ``seq``."""

    __tablename__ = "leadklozer_score_clocks"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    seq: Mapped[int] = mapped_column(BigInteger)
    # The fingerprint of scoring.yaml the parts were made with: another one rebuilds them.
    scoring: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"ScoreClockRow({self.tenant_id!r}, at={self.at!r}, seq={self.seq!r})"


class ScorePartRow(Base):
    """A contact's decaying points of one half-life class: ``value`` is exact at the
    tenant's clock; ``applied`` is the share of it the stored score holds."""

    __tablename__ = "leadklozer_score_parts"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    aging: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    applied: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
    )

    def __repr__(self) -> str:
        return f"ScorePartRow({self.contact_id!r}, {self.aging!r}, value={self.value!r})"


class ScoreDueRow(Base):
    """Points of one engagement that change at ``due_at``: ``expire`` (they leave) or
    ``start`` (they begin to decay, in class ``aging``)."""

    __tablename__ = "leadklozer_score_due"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    event_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(10))
    aging: Mapped[str] = mapped_column(String(200))
    points: Mapped[float] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        Index(None, "tenant_id", "due_at"),
        Index(None, "tenant_id", "contact_id"),
    )

    def __repr__(self) -> str:
        return f"ScoreDueRow({self.contact_id!r}, {self.kind!r}, due_at={self.due_at!r})"


# The tick reads the events recorded since its last run by sequence number.
EVENTS_BY_SEQ = Index(
    "ix_leadklozer_events_tenant_id_seq",
    EventRow.__table__.c.tenant_id,
    EventRow.__table__.c.seq,
)
