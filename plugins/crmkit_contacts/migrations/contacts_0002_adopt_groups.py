"""The contacts pack's tables: groups and their members.

The second revision of the ``contacts`` branch. Like ``contacts_0001`` (segments), it
adopts tables rather than creating them: crmkit's core migration 0002 made
``contact_groups`` and ``group_members`` before packs owned tables, and stays as
released history, since rewriting it would make every existing database disagree
with the revision it records. ``contacts_0001`` depends on core 0002, so on any
database (fresh, or upgraded from any release) this runs after it and finds the tables
in the same shape; it creates them only where they are missing. Every later change to
them is a revision of this branch. Downgrading it changes nothing: core 0002 drops what
it made.

Revision ID: contacts_0002
Revises: contacts_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "contacts_0002"
down_revision: str | Sequence[str] | None = "contacts_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "contact_groups" not in existing:
        op.create_table(
            "contact_groups",
            sa.Column("tenant_id", sa.Integer(), nullable=False),
            sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(
                ["tenant_id"], ["tenants.id"], name=op.f("fk_contact_groups_tenant_id_tenants")
            ),
            sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_contact_groups")),
            sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_contact_groups_tenant_id_name")),
        )
    if "group_members" not in existing:
        op.create_table(
            "group_members",
            sa.Column("tenant_id", sa.Integer(), nullable=False),
            sa.Column("group_id", sa.BigInteger(), nullable=False),
            sa.Column("contact_id", sa.BigInteger(), nullable=False),
            sa.ForeignKeyConstraint(
                ["tenant_id", "contact_id"],
                ["contacts.tenant_id", "contacts.id"],
                name=op.f("fk_group_members_tenant_id_contact_id_contacts"),
            ),
            sa.ForeignKeyConstraint(
                ["tenant_id", "group_id"],
                ["contact_groups.tenant_id", "contact_groups.id"],
                name=op.f("fk_group_members_tenant_id_group_id_contact_groups"),
            ),
            sa.PrimaryKeyConstraint(
                "tenant_id", "group_id", "contact_id", name=op.f("pk_group_members")
            ),
        )
        with op.batch_alter_table("group_members", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_group_members_tenant_id_contact_id"),
                ["tenant_id", "contact_id"],
                unique=False,
            )


def downgrade() -> None:
    """Nothing: the core revision that made the tables drops them."""
