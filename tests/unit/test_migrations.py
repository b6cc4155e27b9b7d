"""The Alembic migrations build exactly the schema the models describe: a database migrated to
head has nothing left for autogenerate to add, change or drop, and there is one head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
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


def test_0018_holds_every_channel_from_its_creation_to_its_deletion(tmp_path: Path) -> None:
    """Channels made before channel hours were metered: each vpns row (live, or kept after
    its deletion) becomes a holding of its account from created_at to deleted_at."""
    import sqlalchemy as sa

    engine = db.make_engine(db.sqlite_url(tmp_path))
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0017")
        conn.execute(sa.text("INSERT INTO accounts (id, name, operator, created_at) VALUES "
                             "(1, 'acme', 0, '2025-05-01 00:00:00.000000')"))
        conn.execute(sa.text("INSERT INTO price_lists (kind, subject, from_hour, currency, "
                             "frontend_node_hour, backend_node_hour, per_gb, per_connection, "
                             "per_1000_requests, public_ip_hour, created_at) VALUES ('edge', "
                             "'', 1, 'USD', '0', '0', '0.09', '0', '0', '0.005', "
                             "'2025-05-01 00:00:00.000000')"))
        for vid, name, created, deleted in (
                (1, "old", "'2025-06-10 00:00:00.000000'", "'2025-06-20 12:00:00.000000'"),
                (2, "link", "'2025-06-01 00:00:00.500000'", "NULL")):
            conn.execute(sa.text(
                "INSERT INTO vpns (id, name, account_id, network_id, site_id, network_key, "
                f"site_key, preshared_key, created_at, deleted_at) VALUES ({vid}, '{name}', 1, "
                f"NULL, NULL, 'k', 'k', 'k', {created}, {deleted})"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        rows = conn.execute(sa.text(
            "SELECT kind, subject_id, subject, account, detail, start_ms, end_ms "
            "FROM edge_holdings ORDER BY subject_id")).fetchall()
        prices = conn.execute(sa.text(
            "SELECT public_ip_hour, per_gb, channel_hour FROM price_lists")).fetchall()
    with engine.begin() as conn:  # and back: the holdings and the column go
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0017")
        assert conn.execute(sa.text("SELECT count(*) FROM edge_holdings")).scalar() == 0
        assert "channel_hour" not in {c["name"] for c in sa.inspect(conn).get_columns(
            "price_lists")}
    engine.dispose()
    june = 1_748_736_000_000  # 2025-06-01T00:00Z in ms
    day = 86_400_000
    assert [tuple(r) for r in rows] == [
        ("vpn", 1, "old", "acme", "", june + 9 * day, june + 19 * day + day // 2),
        ("vpn", 2, "link", "acme", "", june + 500, None)]
    assert [tuple(p) for p in prices] == [("0.005", "0.09", "0")]  # the price backfilled 0


def test_0020_keeps_every_row_and_lets_two_accounts_share_a_name(tmp_path: Path) -> None:
    """A store from before names per account: its rows and names stay; each instance's name
    scope is its own account (a node's: its appliance's customer); a service's price lists
    become provider/service; afterwards a second account may take the same names, one account
    still may not twice."""
    import sqlalchemy as sa

    engine = db.make_engine(db.sqlite_url(tmp_path))
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    at = "'2026-01-01 00:00:00.000000'"
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0019")
        for sql in (
                f"INSERT INTO accounts (id, name, operator, created_at) VALUES (1, 'acme', 0, {at})",
                f"INSERT INTO accounts (id, name, operator, created_at) VALUES (2, 'prov', 0, {at})",
                f"INSERT INTO accounts (id, name, operator, created_at) VALUES (3, 'evil', 0, {at})",
                "INSERT INTO networks (id, name, account_id, cidr) VALUES (1, 'prod', 1, '10.0.0.0/16')",
                "INSERT INTO subnets (id, network_id, name, cidr) VALUES (1, 1, 'app', '10.0.1.0/24')",
                "INSERT INTO services (id, name, account_id, port, backend_subnet_id, "
                "management_subnet_id) VALUES (1, 'search', 2, 80, 1, 1)",
                "INSERT INTO appliances (id, name, account_id, service_id, subnet_id, "
                f"desired_backends, status, status_detail, created_at) VALUES (1, 'docs', 1, 1, 1, "
                f"1, 'ready', '', {at})",
                "INSERT INTO instances (id, name, account_id, role, ordinal, status, created_at) "
                f"VALUES (1, 'web', 1, 'instance', 0, 'active', {at})",
                "INSERT INTO instances (id, name, account_id, role, appliance_id, ordinal, status, "
                f"created_at) VALUES (2, 'docs-fe', 2, 'frontend', 1, 0, 'active', {at})",
                "INSERT INTO price_lists (kind, subject, from_hour, currency, frontend_node_hour, "
                "backend_node_hour, per_gb, per_connection, per_1000_requests, public_ip_hour, "
                f"channel_hour, created_at) VALUES ('service', 'search', 1, 'USD', '1', '0', '0', "
                f"'0', '0', '0', '0', {at})",
                "INSERT INTO price_lists (kind, subject, from_hour, currency, frontend_node_hour, "
                "backend_node_hour, per_gb, per_connection, per_1000_requests, public_ip_hour, "
                f"channel_hour, created_at) VALUES ('service', 'gone', 1, 'USD', '1', '0', '0', "
                f"'0', '0', '0', '0', {at})"):
            conn.execute(sa.text(sql))
    db.migrate(engine)
    with engine.connect() as conn:
        scopes = conn.execute(sa.text(
            "SELECT name, account_id, name_scope_id FROM instances ORDER BY id")).fetchall()
        networks = conn.execute(sa.text("SELECT id, name, account_id FROM networks")).fetchall()
        subjects = conn.execute(sa.text(
            "SELECT subject FROM price_lists ORDER BY id")).fetchall()
        conn.execute(sa.text("INSERT INTO networks (name, account_id, cidr) "
                             "VALUES ('prod', 3, '10.0.0.0/16')"))
        conn.execute(sa.text("INSERT INTO instances (name, account_id, name_scope_id, role, "
                             f"ordinal, status, created_at) VALUES ('web', 3, 3, 'instance', 0, "
                             f"'active', {at})"))
        conn.execute(sa.text("INSERT INTO instances (name, account_id, name_scope_id, role, "
                             "appliance_id, ordinal, status, created_at) VALUES ('docs-fe', 2, "
                             f"3, 'frontend', NULL, 0, 'active', {at})"))
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("INSERT INTO networks (name, account_id, cidr) "
                                 "VALUES ('prod', 1, '10.1.0.0/16')"))
        conn.rollback()
    engine.dispose()
    assert [tuple(r) for r in scopes] == [("web", 1, 1), ("docs-fe", 2, 1)]
    assert [tuple(r) for r in networks] == [(1, "prod", 1)]
    assert [r[0] for r in subjects] == ["prov/search", "gone"]


def _revision(engine: Any, cfg: Config, action: Any, revision: str) -> None:
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        action(cfg, revision)


def test_on_postgresql_the_migrations_build_the_models_and_go_down_and_up_again(
        empty_postgresql_url: str) -> None:
    """Every revision up, none left for autogenerate to do, every one down to nothing (each
    downgrade), and up again: the dialect's own names (a unique constraint PostgreSQL named
    `networks_name_key`) and functions (strpos, not SQLite's instr) are found."""
    import sqlalchemy as sa

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    engine = db.make_engine(empty_postgresql_url)
    db.migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    _revision(engine, cfg, command.downgrade, "base")
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["alembic_version"]
    db.migrate(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_on_postgresql_0020_keeps_rows_and_lets_two_accounts_share_a_name(
        empty_postgresql_url: str) -> None:
    import sqlalchemy as sa

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    engine = db.make_engine(empty_postgresql_url)
    _revision(engine, cfg, command.upgrade, "0019")
    with engine.begin() as conn:
        for sql in (
                "INSERT INTO accounts (name, operator, created_at) VALUES "
                "('acme', false, now()), ('prov', false, now()), ('evil', false, now())",
                "INSERT INTO networks (name, account_id, cidr) VALUES ('prod', 1, '10.0.0.0/16')",
                "INSERT INTO subnets (network_id, name, cidr) VALUES (1, 'app', '10.0.1.0/24')",
                "INSERT INTO services (name, account_id, port, backend_subnet_id, "
                "management_subnet_id) VALUES ('search', 2, 80, 1, 1)",
                "INSERT INTO price_lists (kind, subject, from_hour, currency, frontend_node_hour, "
                "backend_node_hour, per_gb, per_connection, per_1000_requests, public_ip_hour, "
                "channel_hour, created_at) VALUES ('service', 'search', 1, 'USD', '1', '0', '0', "
                "'0', '0', '0', '0', now())"):
            conn.execute(sa.text(sql))
    db.migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO networks (name, account_id, cidr) "
                             "VALUES ('prod', 3, '10.0.0.0/16')"))
        assert conn.execute(sa.text("SELECT subject FROM price_lists")).all() == \
            [("prov/search",)]
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(sa.text("INSERT INTO networks (name, account_id, cidr) "
                                 "VALUES ('prod', 1, '10.1.0.0/16')"))
        conn.execute(sa.text("DELETE FROM networks WHERE account_id = 3"))
    _revision(engine, cfg, command.downgrade, "0019")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT subject FROM price_lists")).all() == [("search",)]
    engine.dispose()


def test_0023_makes_the_local_host_keeps_every_instance_on_it_and_goes_back(
        tmp_path: Path) -> None:
    """A store from before hosts: migrated, it has one host, `local`, ready, and its instances
    (host_id NULL) are on it; downgraded, the table and the column go and the rows stay."""
    import sqlalchemy as sa

    engine = db.make_engine(db.sqlite_url(tmp_path))
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    at = "'2026-01-01 00:00:00.000000'"
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0022")
        for sql in (
                f"INSERT INTO accounts (id, name, operator, created_at) VALUES (1, 'acme', 0, {at})",
                "INSERT INTO instances (id, name, account_id, name_scope_id, role, ordinal, "
                f"status, created_at) VALUES (7, 'web', 1, 1, 'instance', 0, 'active', {at})"):
            conn.execute(sa.text(sql))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0023")
        hosts = conn.execute(sa.text(
            "SELECT name, address, state, capacity, simulated, heartbeat_at FROM hosts")).all()
        placed = conn.execute(sa.text("SELECT id, name, host_id FROM instances")).all()
        # a host may be named once
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(sa.text("INSERT INTO hosts (name, state, capacity, simulated, "
                                 f"created_at) VALUES ('local', 'ready', 1, 0, {at})"))
    assert [tuple(h) for h in hosts] == [("local", None, "ready", 1000, 0, None)]
    assert [tuple(p) for p in placed] == [(7, "web", None)]
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0022")
        inspector = sa.inspect(conn)
        assert "hosts" not in inspector.get_table_names()
        assert "host_id" not in {c["name"] for c in inspector.get_columns("instances")}
        assert [tuple(r) for r in conn.execute(sa.text(
            "SELECT id, name FROM instances")).all()] == [(7, "web")]
    with engine.begin() as conn:  # and up again, as a store that went back and forth
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        assert conn.execute(sa.text("SELECT count(*) FROM hosts")).scalar() == 1
    engine.dispose()


def test_on_postgresql_0023_makes_the_local_host_and_goes_back(
        empty_postgresql_url: str) -> None:
    import sqlalchemy as sa

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    engine = db.make_engine(empty_postgresql_url)
    _revision(engine, cfg, command.upgrade, "0022")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO accounts (name, operator, created_at) VALUES "
                             "('acme', false, now())"))
        conn.execute(sa.text("INSERT INTO instances (name, account_id, name_scope_id, role, "
                             "ordinal, status, created_at) VALUES ('web', 1, 1, 'instance', 0, "
                             "'active', now())"))
    db.migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT name, address, state, capacity, simulated FROM hosts")).all() == [
            ("local", None, "ready", 1000, False)]
        assert conn.execute(sa.text("SELECT name, host_id FROM instances")).all() == [
            ("web", None)]
    _revision(engine, cfg, command.downgrade, "0022")
    with engine.connect() as conn:
        assert "hosts" not in sa.inspect(conn).get_table_names()
        assert conn.execute(sa.text("SELECT name FROM instances")).all() == [("web",)]
    engine.dispose()
