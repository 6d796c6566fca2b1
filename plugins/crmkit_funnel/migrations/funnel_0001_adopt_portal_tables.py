"""The funnel pack's tables: portal credentials and failed-login counts.

This is the first revision of the ``funnel`` branch (Alembic's multiple bases: the
funnel plugin contributes this folder through ``crmkit_register_migrations``). It
adopts tables rather than creating them: crmkit's core migrations 0002 and 0008 made
them before packs owned tables, and stay as released history, since rewriting them
would make every existing database disagree with the revision it records. The branch
depends on core 0008, so on any database (fresh, or upgraded from any release) it runs
after those two and finds the tables in the same shape; it creates them only where
they are missing. Every later change to them is a revision of this branch.
Downgrading it changes nothing: core 0008 and 0002 drop what they made.

Revision ID: funnel_0001
Depends on: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "funnel_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("funnel",)
depends_on: str | Sequence[str] | None = "0008"


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "portal_credentials" not in existing:
        op.create_table(
            "portal_credentials",
            sa.Column("tenant_id", sa.Integer(), nullable=False),
            sa.Column("contact_id", sa.BigInteger(), nullable=False),
            sa.Column("username", sa.String(length=320), nullable=False),
            sa.Column("username_key", sa.String(length=320), nullable=True),
            sa.Column("password_hash", sa.String(length=300), nullable=True),
            sa.Column("token_hash", sa.String(length=300), nullable=True),
            sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(
                ["tenant_id", "contact_id"],
                ["contacts.tenant_id", "contacts.id"],
                name=op.f("fk_portal_credentials_tenant_id_contact_id_contacts"),
            ),
            sa.PrimaryKeyConstraint("tenant_id", "contact_id", name=op.f("pk_portal_credentials")),
            sa.UniqueConstraint(
                "tenant_id", "username", name=op.f("uq_portal_credentials_tenant_id_username")
            ),
            sa.UniqueConstraint(
                "tenant_id",
                "username_key",
                name=op.f("uq_portal_credentials_tenant_id_username_key"),
            ),
        )
    if "portal_login_failures" not in existing:
        op.create_table(
            "portal_login_failures",
            sa.Column("tenant_id", sa.Integer(), nullable=False),
            sa.Column("username_key", sa.String(length=320), nullable=False),
            sa.Column("failures", sa.Integer(), nullable=False),
            sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
            sa.ForeignKeyConstraint(
                ["tenant_id"],
                ["tenants.id"],
                name=op.f("fk_portal_login_failures_tenant_id_tenants"),
            ),
            sa.PrimaryKeyConstraint(
                "tenant_id", "username_key", name=op.f("pk_portal_login_failures")
            ),
        )


def downgrade() -> None:
    """Nothing: the core revisions that made the tables drop them."""
