"""names per account: (account, name) unique instead of name, for networks, instances,
load-balancer offers, services and appliances; an instance's name is among the names of
`name_scope_id` (its own account, or its appliance's customer for a node)

Existing rows keep their names: names unique across all accounts are unique within each.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 05:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

# the unique constraints on `name` came unnamed (0001, 0009): batch mode finds them by this
# on SQLite; PostgreSQL named them itself (`networks_name_key`), found by _name_unique
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
TABLES = ("networks", "load_balancers", "services", "appliances")


def _name_unique(table: str) -> str:
    """The name of `table`'s unique constraint on `name` alone, as this database knows it."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return f"uq_{table}_name"
    for found in sa.inspect(bind).get_unique_constraints(table):
        if found["column_names"] == ["name"] and found["name"]:
            return found["name"]
    raise RuntimeError(f"{table} has no unique constraint on name")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=NAMING,
                                  table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.drop_constraint(_name_unique(table), type_="unique")
            batch.create_unique_constraint(f"uq_{table}_account_id_name", ["account_id", "name"])
    with op.batch_alter_table("instances", naming_convention=NAMING,
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("name_scope_id", sa.Integer(), nullable=True))
    # a node's name is among its appliance's customer's names; any other instance's, its own
    op.execute("UPDATE instances SET name_scope_id = COALESCE((SELECT appliances.account_id "
               "FROM appliances WHERE appliances.id = instances.appliance_id), account_id)")
    with op.batch_alter_table("instances", naming_convention=NAMING,
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("name_scope_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key("fk_instances_name_scope_id_accounts", "accounts",
                                 ["name_scope_id"], ["id"])
        batch.drop_constraint(_name_unique("instances"), type_="unique")
        batch.create_unique_constraint("uq_instances_name_scope_id_name",
                                       ["name_scope_id", "name"])
    # a service's price lists are named provider/service (two providers may both offer
    # `search`); the lists of a service deleted before keep its bare name
    with op.batch_alter_table("price_lists", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("subject", existing_type=sa.String(length=40),
                           type_=sa.String(length=81), existing_nullable=False)
    op.execute("UPDATE price_lists SET subject = (SELECT accounts.name || '/' || services.name "
               "FROM services JOIN accounts ON accounts.id = services.account_id "
               "WHERE services.name = price_lists.subject) WHERE kind = 'service' AND "
               "subject IN (SELECT name FROM services)")


def downgrade() -> None:
    # refused by the database when two accounts now share a name: nothing is renamed for it
    find = "instr" if op.get_bind().dialect.name == "sqlite" else "strpos"
    op.execute(f"UPDATE price_lists SET subject = substr(subject, {find}(subject, '/') + 1) "
               f"WHERE kind = 'service' AND {find}(subject, '/') > 0")
    with op.batch_alter_table("price_lists", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("subject", existing_type=sa.String(length=81),
                           type_=sa.String(length=40), existing_nullable=False)
    with op.batch_alter_table("instances", naming_convention=NAMING,
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("uq_instances_name_scope_id_name", type_="unique")
        batch.drop_constraint("fk_instances_name_scope_id_accounts", type_="foreignkey")
        batch.drop_column("name_scope_id")
        batch.create_unique_constraint("uq_instances_name", ["name"])
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=NAMING,
                                  table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.drop_constraint(f"uq_{table}_account_id_name", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_name", ["name"])
