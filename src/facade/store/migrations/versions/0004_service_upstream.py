"""service upstream: the appliance a service's backends call (chained appliances)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 04:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('services') as batch:
        batch.add_column(sa.Column('upstream', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('services') as batch:
        batch.drop_column('upstream')
