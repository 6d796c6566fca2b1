"""action leases: when a running action was claimed, and how many times

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00.000000

A process killed while carrying out an action leaves it ``running``; the claim time
lets the next tick see that the lease ran out, and the count bounds the retries.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('scheduled_actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('attempts', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('scheduled_actions', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('claimed_at')
