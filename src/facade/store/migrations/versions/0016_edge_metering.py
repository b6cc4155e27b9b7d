"""the edge's metering and billing: what accounts hold (public addresses, by the hour), the
bytes through the public gateways per address, what the runs billed of them, and the
operator's price per public address-hour

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 18:10:00.000000
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def _ms(value: object) -> int:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        return int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


def upgrade() -> None:
    op.create_table(
        "edge_holdings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=60), nullable=False),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "subject_id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("edge_holdings") as batch:
        batch.create_index(batch.f("ix_edge_holdings_account"), ["account"], unique=False)
        batch.create_index(batch.f("ix_edge_holdings_end_ms"), ["end_ms"], unique=False)
    op.create_table(
        "edge_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=60), nullable=False),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hour", "kind", "subject_id", "metric"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("edge_usage") as batch:
        batch.create_index(batch.f("ix_edge_usage_account"), ["account"], unique=False)
        batch.create_index(batch.f("ix_edge_usage_hour"), ["hour"], unique=False)
    op.create_table(
        "edge_billed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Integer(), nullable=False),
        sa.Column("period_end", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_start", "period_end", "kind", "subject_id", "metric"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("price_lists") as batch:
        batch.add_column(sa.Column("public_ip_hour", sa.String(length=40), nullable=False,
                                   server_default="0"))
    # the addresses held now are held from when they were made
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT p.id, p.address, a.name, p.standard, p.created_at FROM public_ips p "
        "JOIN accounts a ON a.id = p.account_id")).fetchall()
    holdings = sa.table("edge_holdings", sa.column("kind"), sa.column("subject_id"),
                        sa.column("subject"), sa.column("account"), sa.column("detail"),
                        sa.column("start_ms"), sa.column("end_ms"))
    if rows:
        op.bulk_insert(holdings, [
            {"kind": "public-ip", "subject_id": r[0], "subject": r[1], "account": r[2],
             "detail": "standard" if r[3] else "customer", "start_ms": _ms(r[4]),
             "end_ms": None} for r in rows])


def downgrade() -> None:
    with op.batch_alter_table("price_lists") as batch:
        batch.drop_column("public_ip_hour")
    op.drop_table("edge_billed")
    with op.batch_alter_table("edge_usage") as batch:
        batch.drop_index(batch.f("ix_edge_usage_hour"))
        batch.drop_index(batch.f("ix_edge_usage_account"))
    op.drop_table("edge_usage")
    with op.batch_alter_table("edge_holdings") as batch:
        batch.drop_index(batch.f("ix_edge_holdings_end_ms"))
        batch.drop_index(batch.f("ix_edge_holdings_account"))
    op.drop_table("edge_holdings")
