"""The contacts pack's table: segments (saved searches).

This is the first revision of the ``contacts`` branch (Alembic's multiple bases: the
contacts plugin contributes this folder through ``crmkit_register_migrations``). It
adopts the table rather than creating it: crmkit's core migration 0002 made it before
packs owned tables, and stays as released history, since rewriting it would make every
existing database disagree with the revision it records. The branch depends on core
0002, so on any database (fresh, or upgraded from any release) it runs after it and
finds the table in the same shape; it creates the table only where it is missing.
Every later change to it is a revision of this branch. Downgrading it changes nothing:
core 0002 drops what it made.

Revision ID: contacts_0001
Depends on: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "contacts_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("contacts",)
depends_on: str | Sequence[str] | None = "0002"


def upgrade() -> None:
    if "segments" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "segments",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_segments_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_segments")),
    )


def downgrade() -> None:
    """Nothing: the core revision that made the table drops it."""
