"""The Alembic migrations build exactly the schema the models describe: a database migrated to
head has nothing left for autogenerate to add, change or drop, and there is one head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from facade.store import db
from facade.store.models import Base


def test_one_head_and_no_difference_from_the_models(tmp_path: Path) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1
    engine = db.make_engine(db.sqlite_url(tmp_path))
    db.migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_every_table_the_models_never_reuse_ids_of_has_autoincrement(tmp_path: Path) -> None:
    engine = db.make_engine(db.sqlite_url(tmp_path))
    db.migrate(engine)
    with engine.connect() as conn:
        sql = dict(conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
        foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    engine.dispose()
    wrong = [t.name for t in Base.metadata.sorted_tables
             if t.dialect_kwargs.get("sqlite_autoincrement", False)
             != ("AUTOINCREMENT" in (sql.get(t.name) or ""))]
    assert wrong == []
    assert foreign_keys == 1  # back on for the store's connections


def test_a_store_with_networks_from_before_the_edge_upgrades_keeping_its_rows(
        tmp_path: Path) -> None:
    """0013 makes `networks` again (batch mode): with foreign keys on, dropping the old table
    was refused for a network with subnets (FOREIGN KEY constraint failed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    engine = db.make_engine(db.sqlite_url(tmp_path))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012")
        conn.exec_driver_sql("INSERT INTO accounts (name, operator, created_at) "
                             "VALUES ('acme', 0, '2026-01-01 00:00:00')")
        conn.exec_driver_sql("INSERT INTO networks (name, account_id, cidr) "
                             "VALUES ('vpc', 1, '10.0.0.0/16')")
        conn.exec_driver_sql("INSERT INTO subnets (network_id, name, cidr) "
                             "VALUES (1, 'app', '10.0.1.0/24')")
    db.migrate(engine)
    with engine.connect() as conn:
        networks = conn.exec_driver_sql("SELECT id, name, kind FROM networks").fetchall()
        subnets = conn.exec_driver_sql("SELECT network_id, name FROM subnets").fetchall()
        conn.exec_driver_sql("DELETE FROM subnets")
        conn.exec_driver_sql("DELETE FROM networks")
        conn.exec_driver_sql("INSERT INTO networks (name, account_id, cidr, kind) "
                             "VALUES ('again', 1, '10.1.0.0/16', 'private')")
        again = conn.exec_driver_sql("SELECT id FROM networks").scalar()
        conn.commit()
    engine.dispose()
    assert networks == [(1, "vpc", "private")]
    assert subnets == [(1, "app")]
    assert again == 2  # a deleted network's id is not given again
