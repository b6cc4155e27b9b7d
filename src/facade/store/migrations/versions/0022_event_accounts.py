"""event accounts: the account whose object an event is about; a service's upstream as
long as an ACCOUNT/NAME reference

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-10 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # existing events keep None: their object is matched by name, as before (service/events.py)
    op.add_column("events", sa.Column("account_id", sa.Integer(), nullable=True))
    op.create_index("ix_events_account_id", "events", ["account_id"])
    with op.batch_alter_table("services", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("upstream", existing_type=sa.String(length=40),
                           type_=sa.String(length=81), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("services", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("upstream", existing_type=sa.String(length=81),
                           type_=sa.String(length=40), existing_nullable=True)
    op.drop_index("ix_events_account_id", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("account_id")
