"""customer sites and private channels: vpns, a subnet's route to sites, public IPs on site hosts

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 18:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subnets") as batch:
        batch.add_column(sa.Column("sites", sa.Boolean(), nullable=False, server_default="1"))
    # columns added in place: a batch copy of the table would lose its AUTOINCREMENT (ids of
    # public addresses are never handed out twice: metering keys its holdings by them)
    op.execute("ALTER TABLE public_ips ADD COLUMN site_id INTEGER REFERENCES networks (id)")
    op.add_column("public_ips", sa.Column("site_address", sa.String(length=15), nullable=True))
    op.create_table(
        "vpns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("network_key", sa.String(length=44), nullable=False),
        sa.Column("site_key", sa.String(length=44), nullable=False),
        sa.Column("preshared_key", sa.String(length=44), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["networks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("vpns")
    with op.batch_alter_table("public_ips", table_kwargs={"sqlite_autoincrement": True}) \
            as batch:
        batch.drop_column("site_address")
        batch.drop_column("site_id")
    with op.batch_alter_table("subnets") as batch:
        batch.drop_column("sites")
