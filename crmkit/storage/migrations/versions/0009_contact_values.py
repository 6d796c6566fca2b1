"""contact values: every email and phone of a contact besides its own

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:15:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('contact_values',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('label', sa.String(length=50), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'contact_id'], ['contacts.tenant_id', 'contacts.id'], name=op.f('fk_contact_values_tenant_id_contact_id_contacts')),
    sa.PrimaryKeyConstraint('tenant_id', 'contact_id', 'kind', 'value', name=op.f('pk_contact_values'))
    )
    with op.batch_alter_table('contact_values', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_values_tenant_id_kind_value'), ['tenant_id', 'kind', 'value'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('contact_values', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_values_tenant_id_kind_value'))

    op.drop_table('contact_values')
