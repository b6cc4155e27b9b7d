"""a subnet's route to the Internet through its network's public gateway

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 16:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subnets") as batch:
        batch.add_column(sa.Column("internet", sa.Boolean(), nullable=False,
                                   server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("subnets") as batch:
        batch.drop_column("internet")
