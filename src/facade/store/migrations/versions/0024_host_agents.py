"""host agents: their tokens (digests, for one host name each) and the agent a host
registered last

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-12 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_host_tokens_host", "host_tokens", ["host"])
    with op.batch_alter_table("hosts", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("agent_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hosts", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("agent_id")
    op.drop_index("ix_host_tokens_host", table_name="host_tokens")
    op.drop_table("host_tokens")
