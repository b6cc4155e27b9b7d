"""sandbox limits of instances and of services' backends

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 00:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TABLES = ("instances", "services")
COLUMNS = ("limit_memory_mb", "limit_pids", "limit_cpu_weight")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for column in COLUMNS:
                batch.add_column(sa.Column(column, sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for column in COLUMNS:
                batch.drop_column(column)
