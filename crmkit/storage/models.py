"""SQLAlchemy models: the tables, typed. Every primary key leads with ``tenant_id``.

These classes describe storage only; what crosses the API is in :mod:`crmkit.schemas`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crmkit.storage.types import UTCDateTime, json_type

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: json_type(), list[Any]: json_type()}


class TenantRow(Base):
    """A business using crmkit; ``config_version`` grows on every reconfiguration."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"TenantRow(id={self.id!r}, name={self.name!r})"


class CounterRow(Base):
    """Per-tenant id counters (``contact``, ``account``, ``project``, ``note``, ``event``)."""

    __tablename__ = "counters"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

    def __repr__(self) -> str:
        return f"CounterRow(tenant_id={self.tenant_id!r}, {self.name}={self.value!r})"


class TenantPackRow(Base):
    """One entry of a tenant's ordered pack list: the spec as the tenant wrote it and
    the version it was locked to when configured (a newer install does not move it;
    ``crmkit packs upgrade`` does, and records it)."""

    __tablename__ = "tenant_packs"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[str] = mapped_column(String(200))
    # None in rows written before versions were locked: the spec then decides.
    version: Mapped[str | None] = mapped_column(String(50))

    def __repr__(self) -> str:
        return f"TenantPackRow(tenant_id={self.tenant_id!r}, spec={self.spec!r})"


class PackChangeRow(Base):
    """A change of a tenant's pack versions: who, when, which pack, from, to.

    ``from_version`` is None when the pack was added, ``to_version`` when removed.
    """

    __tablename__ = "pack_changes"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pack: Mapped[str] = mapped_column(String(100))
    from_version: Mapped[str | None] = mapped_column(String(50))
    to_version: Mapped[str | None] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class TickRunRow(Base):
    """One run of the tick: the moment it was run for, when, and its place among the
    tenant's events (``seq`` comes from the same counter as event sequence numbers)."""

    __tablename__ = "tick_runs"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountRow(Base):
    """A company."""

    __tablename__ = "accounts"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(300))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    def __repr__(self) -> str:
        return f"AccountRow(tenant_id={self.tenant_id!r}, id={self.id!r}, name={self.name!r})"


class ContactRow(Base):
    """A person, optionally in an account. ``version`` counts applied transitions."""

    __tablename__ = "contacts"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    account_id: Mapped[int | None] = mapped_column(BigInteger)
    city: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(200))
    lead_source: Mapped[str | None] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Express permission to text the cell phone, and why it is off when a check said so.
    ok_to_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sms_note: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The tenant's last event or tick sequence number when the contact was created, so a
    # replay knows which events and ticks came before it (None: created before 0005).
    created_after_seq: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "account_id"], ["accounts.tenant_id", "accounts.id"]),
        Index(None, "tenant_id", "email"),
        Index(None, "tenant_id", "phone"),
    )

    def __repr__(self) -> str:
        return f"ContactRow(tenant_id={self.tenant_id!r}, id={self.id!r})"


class ContactFacetRow(Base):
    """The current value of one facet of one contact."""

    __tablename__ = "contact_facets"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    facet: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        Index(None, "tenant_id", "facet", "value"),
    )

    def __repr__(self) -> str:
        return f"ContactFacetRow({self.contact_id!r}, {self.facet!r}={self.value!r})"


class ContactTagRow(Base):
    __tablename__ = "contact_tags"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        Index(None, "tenant_id", "tag"),
    )

    def __repr__(self) -> str:
        return f"ContactTagRow({self.contact_id!r}, {self.tag!r})"


class ContactValueRow(Base):
    """One more email or phone of a contact, besides the one on its row (which is the
    one messages go to): ``kind`` is ``email`` or ``phone`` (E.164), ``label`` how the
    source typed it (work, home...). Found by value, for matching and duplicates."""

    __tablename__ = "contact_values"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[str] = mapped_column(String(320), primary_key=True)
    label: Mapped[str | None] = mapped_column(String(50))

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        Index(None, "tenant_id", "kind", "value"),
    )

    def __repr__(self) -> str:
        return f"ContactValueRow({self.contact_id!r}, {self.kind}={self.value!r})"


class EventRow(Base):
    """Something that happened to a contact. ``status`` is ``applied`` or ``failed``."""

    __tablename__ = "events"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    # The seq of the first event written in the same transaction: a replay applies
    # the events of one batch together, as they were (None: recorded before 0005).
    batch_seq: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        Index(None, "tenant_id", "contact_id", "occurred_at"),
    )

    def __repr__(self) -> str:
        return f"EventRow({self.id!r}, kind={self.kind!r}, status={self.status!r})"


class TransitionRow(Base):
    """The audit trail: one row per applied change, with its cause.

    ``target`` is ``facet``, ``tag``, ``score`` or ``field``; ``cause_type`` is ``rule``
    (with pack, pack_version and rule), ``manual`` (with actor) or ``import``.
    """

    __tablename__ = "transitions"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    target: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    old: Mapped[str | None] = mapped_column(String(300))
    new: Mapped[str | None] = mapped_column(String(300))
    cause_type: Mapped[str] = mapped_column(String(20))
    pack: Mapped[str | None] = mapped_column(String(100))
    pack_version: Mapped[str | None] = mapped_column(String(50))
    rule: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(String(200))
    event_id: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # For a change by hand or by import: the tenant's last event or tick sequence number
    # when it was written, which places it between events for a replay.
    after_seq: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
    )

    def __repr__(self) -> str:
        return f"TransitionRow({self.contact_id!r} {self.name}: {self.old!r}->{self.new!r})"


class NoteRow(Base):
    __tablename__ = "notes"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
    )

    def __repr__(self) -> str:
        return f"NoteRow({self.id!r}, contact={self.contact_id!r})"


class ProjectRow(Base):
    """A piece of work for a primary contact."""

    __tablename__ = "projects"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(300))
    primary_contact_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "primary_contact_id"], ["contacts.tenant_id", "contacts.id"]
        ),
    )

    def __repr__(self) -> str:
        return f"ProjectRow({self.id!r}, {self.name!r})"


class ProjectContactRow(Base):
    """A related contact of a project, with the role it plays (a free label)."""

    __tablename__ = "project_contacts"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    role: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
    )

    def __repr__(self) -> str:
        return f"ProjectContactRow({self.project_id!r}, {self.contact_id!r}, {self.role!r})"


class CustomFieldRow(Base):
    """A field of the tenant's own, offered on every contact's profile."""

    __tablename__ = "custom_fields"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    choices: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"CustomFieldRow({self.name!r}, {self.type!r})"


class ScheduledActionRow(Base):
    """An upcoming action of a contact: a plan step, a text or email, an appointment or a
    reminder. ``status`` is ``pending``, ``running``, ``done``, ``failed`` or ``cancelled``.
    ``claimed_at`` and ``attempts``: when a tick last took it to run, and how many times.
    """

    __tablename__ = "scheduled_actions"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    template: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    result: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    pack: Mapped[str | None] = mapped_column(String(100))
    rule: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(String(200))
    event_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        Index(None, "tenant_id", "status", "due_at"),
        Index(None, "tenant_id", "contact_id", "due_at"),
    )

    def __repr__(self) -> str:
        return f"ScheduledActionRow({self.id!r}, {self.kind!r}, due={self.due_at!r})"


class MessageRow(Base):
    """A text or email to or from a contact: the contact's Text and Email tabs.

    ``direction`` is ``out`` or ``in``; ``status`` is ``sending``, ``sent``, ``failed``
    or (inbound) ``received``.
    """

    __tablename__ = "messages"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(3))
    address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(300))
    action_id: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        Index(None, "tenant_id", "contact_id", "channel", "at"),
    )

    def __repr__(self) -> str:
        return f"MessageRow({self.id!r}, {self.channel!r} {self.direction!r})"


class SmsOutboxRow(Base):
    """Texts handed to the default SMS transport, for a gateway process to pick up."""

    __tablename__ = "sms_outbox"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    to_number: Mapped[str] = mapped_column(String(50))
    body: Mapped[str] = mapped_column(Text)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
    )

    def __repr__(self) -> str:
        return f"SmsOutboxRow({self.message_id!r}, to={self.to_number!r})"


class ImportRunRow(Base):
    """One run of a contact import, the journal that makes a rerun resume, not repeat.

    ``checksum`` is the sha256 of the file's bytes and ``fingerprint`` that of how it
    was read and mapped. Every batch moves ``last_row`` (the file row number, the header
    being row 1) and the counts forward in the transaction that writes its contacts, so
    they never disagree with what is stored. ``pending_events`` holds the
    ``[contact, row, created]`` of the last batch whose ``contact_imported`` events may
    not be recorded yet; their ids are deterministic, so recording them twice is a no-op.
    ``status`` is ``running`` or ``done``.
    """

    __tablename__ = "import_runs"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    file: Mapped[str] = mapped_column(String(300))
    checksum: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    last_row: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    created: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_events: Mapped[list[Any] | None] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "checksum", "fingerprint"),)

    def __repr__(self) -> str:
        return f"ImportRunRow({self.id!r}, {self.file!r}, {self.status!r} at {self.last_row!r})"
