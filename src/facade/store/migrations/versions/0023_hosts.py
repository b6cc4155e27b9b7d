"""hosts: the machines that hold nodes, the local host made for every store, and each
instance's host (None: the local host)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-11 10:00:00.000000
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
LOCAL_CAPACITY = 1000  # domain/hosts.py, LOCAL_CAPACITY, as it was when this was written


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=15), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    # every store has its local host, ready, holding every node there is (host_id None)
    op.get_bind().execute(sa.text(
        "INSERT INTO hosts (name, address, state, capacity, simulated, heartbeat_at, "
        "created_at) VALUES ('local', NULL, 'ready', :capacity, :simulated, NULL, :now)"),
        {"capacity": LOCAL_CAPACITY, "simulated": False, "now": dt.datetime.now(dt.UTC)})
    with op.batch_alter_table("instances", naming_convention=NAMING,
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("host_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_instances_host_id_hosts", "hosts", ["host_id"], ["id"])
        batch.create_index("ix_instances_host_id", ["host_id"])


def downgrade() -> None:
    with op.batch_alter_table("instances", naming_convention=NAMING,
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_instances_host_id")
        batch.drop_constraint("fk_instances_host_id_hosts", type_="foreignkey")
        batch.drop_column("host_id")
    op.drop_table("hosts")
