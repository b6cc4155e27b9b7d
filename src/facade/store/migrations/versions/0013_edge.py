"""the provider network's edge: the intermediate network, public gateways, pools, public IPs

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 15:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False,
                                   server_default="private"))
        batch.add_column(sa.Column("public_gateway", sa.Boolean(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("outbound_nat", sa.Boolean(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("gateway_ip", sa.String(length=15), nullable=True))
        batch.create_unique_constraint("uq_networks_gateway_ip", ["gateway_ip"])
    op.create_table(
        "ip_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(length=18), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cidr"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "public_ips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=15), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("standard", sa.Boolean(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("iface_index", sa.Integer(), nullable=True),
        sa.Column("network_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["ip_pools.id"]),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"]),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("public_ips")
    op.drop_table("ip_pools")
    with op.batch_alter_table("networks") as batch:
        batch.drop_constraint("uq_networks_gateway_ip", type_="unique")
        for name in ("gateway_ip", "outbound_nat", "public_gateway", "kind"):
            batch.drop_column(name)
