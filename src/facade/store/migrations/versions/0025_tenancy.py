"""tenancy: a service's (its provider's choice for all its appliances) and an appliance's
(its customer's), shared unless dedicated

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 20:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("services", "appliances"):
        with op.batch_alter_table(table, table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.add_column(sa.Column("tenancy", sa.String(length=16),
                                       server_default="shared", nullable=False))


def downgrade() -> None:
    for table in ("appliances", "services"):
        with op.batch_alter_table(table, table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.drop_column("tenancy")
