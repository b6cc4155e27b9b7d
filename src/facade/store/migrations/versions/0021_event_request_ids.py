"""event request ids: the X-Request-ID of the API request that caused an event

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("request_id", sa.String(length=128), nullable=True))
    # GET /v1/events?request_id=: what one request did, without reading the whole log
    op.create_index("ix_events_request_id", "events", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_events_request_id", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("request_id")
