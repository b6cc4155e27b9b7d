"""networks and services number their rows AUTOINCREMENT again (never reused)

Batch mode made both tables again (0009, 0013) without SQLite's AUTOINCREMENT, which the
models ask for (NEVER_REUSE): a deleted network's id could come back, and with it the names of
its router's namespace and its records. The rows keep their ids; SQLite's sequence starts
after the largest.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 19:20:00.000000
"""
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

TABLES = ("networks", "services")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    pass  # AUTOINCREMENT is what every revision's models asked for
