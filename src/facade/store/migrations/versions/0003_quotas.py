"""quotas: per-account limits on networks, subnets, instances, appliances, backends

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 04:15:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quotas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('resource', sa.String(length=16), nullable=False),
    sa.Column('limit', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'resource'),
    sqlite_autoincrement=True
    )


def downgrade() -> None:
    op.drop_table('quotas')
