"""services' tunable health checks

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:45:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

COLUMNS = (("health_type", sa.String(length=8)), ("health_codes", sa.String(length=64)),
           ("health_interval_ms", sa.Integer()), ("health_timeout_ms", sa.Integer()),
           ("health_rise", sa.Integer()), ("health_fall", sa.Integer()))


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)
