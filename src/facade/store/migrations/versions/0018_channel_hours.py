"""channel hours: the operator's price per channel-hour, and a holding per private channel
(vpns row) from its creation to its deletion

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 19:10:00.000000
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def _ms(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        return int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


def upgrade() -> None:
    # added in place: a batch copy of price_lists would lose its AUTOINCREMENT
    op.add_column("price_lists", sa.Column("channel_hour", sa.String(length=40),
                                           nullable=False, server_default="0"))
    # every channel, live or ended (its row is kept), held from its creation to its deletion;
    # one already held (none should be) is left as is
    bind = op.get_bind()
    held = {r[0] for r in bind.execute(sa.text(
        "SELECT subject_id FROM edge_holdings WHERE kind = 'vpn'")).fetchall()}
    rows = bind.execute(sa.text(
        "SELECT v.id, v.name, a.name, v.created_at, v.deleted_at FROM vpns v "
        "JOIN accounts a ON a.id = v.account_id")).fetchall()
    holdings = sa.table("edge_holdings", sa.column("kind"), sa.column("subject_id"),
                        sa.column("subject"), sa.column("account"), sa.column("detail"),
                        sa.column("start_ms"), sa.column("end_ms"))
    new = []
    for r in rows:
        if r[0] in held:
            continue
        start = _ms(r[3])
        assert start is not None
        end = _ms(r[4])
        new.append({"kind": "vpn", "subject_id": r[0], "subject": r[1], "account": r[2],
                    "detail": "", "start_ms": start,
                    "end_ms": None if end is None else max(start, end)})
    if new:
        op.bulk_insert(holdings, new)


def downgrade() -> None:
    op.execute("DELETE FROM edge_holdings WHERE kind = 'vpn'")
    op.execute("DELETE FROM edge_usage WHERE kind = 'vpn'")
    op.execute("DELETE FROM edge_billed WHERE kind = 'vpn'")
    with op.batch_alter_table("price_lists") as batch:
        batch.drop_column("channel_hour")
