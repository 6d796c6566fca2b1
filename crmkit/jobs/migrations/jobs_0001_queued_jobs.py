"""The job queue's table: ``queued_jobs`` (see :mod:`crmkit.storage.job_queue`).

The first revision of the ``jobs`` branch, contributed by crmkit's default plugin
:mod:`crmkit.jobs.plugin` through ``crmkit_register_migrations``. procrastinate's own
schema is not part of it: the first ``crmkit worker`` on PostgreSQL installs it
(procrastinate's tables are its own, and a database that never runs workers on
PostgreSQL needs none of them).

Revision ID: jobs_0001
Depends on: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "jobs_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("jobs",)
depends_on: str | Sequence[str] | None = "0001"


def upgrade() -> None:
    op.create_table(
        "queued_jobs",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("task", sa.String(length=50), nullable=False),
        sa.Column("args", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("handed_over", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_queued_jobs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_queued_jobs")),
    )
    op.create_index(
        op.f("ix_queued_jobs_status_run_at"), "queued_jobs", ["status", "run_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_queued_jobs_status_run_at"), table_name="queued_jobs")
    op.drop_table("queued_jobs")
