"""The leadklozer pack's score state: clocks, parts, due points, and events by seq.

The first revision of the ``leadklozer`` branch (Alembic's multiple bases: the pack
contributes this folder through ``crmkit_register_migrations``). It depends on core
0008, the newest core revision when the pack began to keep score state, so it runs on
a schema that has ``contacts`` and ``events``. Existing tenants need no data
migration: a tenant without a clock row has its state built from the event log at its
next tick.

Revision ID: leadklozer_0001
Depends on: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "leadklozer_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("leadklozer",)
depends_on: str | Sequence[str] | None = "0008"


def upgrade() -> None:
    op.create_table(
        "leadklozer_score_clocks",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("scoring", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_leadklozer_score_clocks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_leadklozer_score_clocks")),
    )
    op.create_table(
        "leadklozer_score_parts",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("aging", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("applied", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_leadklozer_score_parts_tenant_id_contact_id_contacts"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "contact_id", "aging", name=op.f("pk_leadklozer_score_parts")
        ),
    )
    op.create_table(
        "leadklozer_score_due",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("aging", sa.String(length=200), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_leadklozer_score_due_tenant_id_contact_id_contacts"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "event_seq", name=op.f("pk_leadklozer_score_due")),
    )
    op.create_index(
        op.f("ix_leadklozer_score_due_tenant_id_due_at"),
        "leadklozer_score_due",
        ["tenant_id", "due_at"],
    )
    op.create_index(
        op.f("ix_leadklozer_score_due_tenant_id_contact_id"),
        "leadklozer_score_due",
        ["tenant_id", "contact_id"],
    )
    op.create_index("ix_leadklozer_events_tenant_id_seq", "events", ["tenant_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_leadklozer_events_tenant_id_seq", table_name="events")
    op.drop_table("leadklozer_score_due")
    op.drop_table("leadklozer_score_parts")
    op.drop_table("leadklozer_score_clocks")
