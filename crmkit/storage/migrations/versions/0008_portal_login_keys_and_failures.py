"""portal logins: casefolded username keys, failed-login counts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:12:05.112274

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _fill_username_keys() -> None:
    """Key each existing login by its casefolded username. Where two logins of a tenant
    differ only by case, the older keeps the key and the other keeps logging in by its
    exact username (its key stays null): no login is lost, no new collision is made."""
    credentials = sa.table(
        'portal_credentials',
        sa.column('tenant_id', sa.Integer()),
        sa.column('contact_id', sa.BigInteger()),
        sa.column('username', sa.String()),
        sa.column('username_key', sa.String()),
    )
    c = credentials.c
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(c.tenant_id, c.contact_id, c.username).order_by(c.tenant_id, c.contact_id)
    ).all()
    taken: set[tuple[int, str]] = set()
    for tenant_id, contact_id, username in rows:
        key = (tenant_id, username.casefold())
        if key in taken:
            continue
        taken.add(key)
        conn.execute(
            sa.update(credentials)
            .where(c.tenant_id == tenant_id, c.contact_id == contact_id)
            .values(username_key=key[1])
        )


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('portal_login_failures',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('username_key', sa.String(length=320), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_portal_login_failures_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'username_key', name=op.f('pk_portal_login_failures'))
    )
    with op.batch_alter_table('portal_credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username_key', sa.String(length=320), nullable=True))
    _fill_username_keys()
    with op.batch_alter_table('portal_credentials', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_portal_credentials_tenant_id_username_key'), ['tenant_id', 'username_key'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('portal_credentials', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_portal_credentials_tenant_id_username_key'), type_='unique')
        batch_op.drop_column('username_key')

    op.drop_table('portal_login_failures')
