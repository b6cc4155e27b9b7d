"""`facade backup` / `facade restore` of a PostgreSQL store (store/backup.py, store/pgdump.py) on
a real server (tests/pg.py): the database comes back as it was backed up, and every refusal
(a newer schema, the other kind of store, tables the backup lacks, a URL that cannot be used, a
missing program) leaves the database and the state folder as they were.

What the database holds is read with SQL of the test's own (psycopg), not through the service."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import psycopg
import pytest

from facade.cli import client
from facade.cli.main import app
from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts, management, networks
from facade.service.context import Caller, Context
from facade.store import backup, pgdump
from tests import stores
from tests.clirunner import CliRunner

OPERATOR = Caller(account_id=1, account="operator", operator=True)


def _with_password(url: str) -> str:
    """The test server trusts every login: a password it ignores, to prove none is shown."""
    return url.replace("postgresql://postgres@", "postgresql://postgres:s3cr3t-pw@")


def _world(home: Path, url: str) -> tuple[str, str]:
    """A state folder whose store is the database: an account, a network, a secret."""
    ctx = Context.open(home, FakeDataPlane(), url)
    try:
        token = accounts.bootstrap_operator(ctx)
        assert token
        accounts.create(ctx, OPERATOR, "acme")
        networks.create_network(ctx, OPERATOR, "acme-vpc", "acme", "10.0.0.0/16", [])
    finally:
        ctx.engine.dispose()
    return token, management.secret(home, 7)


def _sql(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.replace("postgresql://postgres:s3cr3t-pw@", "postgresql://postgres@"),
                         autocommit=True) as conn:
        cur = conn.execute(sql.encode())
        return cur.fetchall() if cur.description else []


def _names(url: str) -> set[str]:
    return {row[0] for row in _sql(url, "SELECT name FROM networks")}


@pytest.fixture
def world(tmp_path: Path, postgresql_url: str, monkeypatch: Any) -> tuple[Path, str, Path]:
    """A state folder on a database, backed up (through the command, the folder's note naming
    the store); the control plane stopped."""
    monkeypatch.delenv("FACADE_DATABASE", raising=False)
    monkeypatch.setattr(client.Client, "healthy", lambda self, timeout=1.0: False)
    home = tmp_path / "home"
    url = _with_password(postgresql_url)
    _world(home, url)
    out = tmp_path / "facade.backup"
    monkeypatch.setenv("FACADE_HOME", str(home))
    result = CliRunner().invoke(app, ["backup", str(out)])
    assert result.exit_code == 0, result.output
    return home, url, out


def test_a_backup_brings_the_database_token_and_secrets_back(
        world: tuple[Path, str, Path], tmp_path: Path) -> None:
    home, url, out = world
    token = (home / "operator.token").read_text()
    secret = (home / "agents" / "n7.secret").read_text()
    assert out.stat().st_mode & 0o077 == 0  # it holds secrets
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        raw = tar.extractfile("MANIFEST.json").read()  # type: ignore[union-attr]
    manifest = json.loads(raw)
    assert names == {"MANIFEST.json", "facade.dump", "operator.token", "agents/n7.secret"}
    assert manifest["store"] == "postgresql" and manifest["format"] == 1
    assert manifest["schema"] == backup.known_revisions()[1]
    assert b"s3cr3t" not in raw and b"postgres@" not in raw  # no URL, no password
    # the store moves on: a network renamed and one added, the secrets changed
    _sql(url, "UPDATE networks SET name = 'renamed' WHERE name = 'acme-vpc'")
    ctx = Context.open(home, FakeDataPlane(), url)
    networks.create_network(ctx, OPERATOR, "later-vpc", "acme", "10.1.0.0/16", [])
    ctx.engine.dispose()
    assert _names(url) == {"renamed", "later-vpc"}
    (home / "agents" / "n7.secret").write_text("0" * 64 + "\n")
    (home / "operator.token").write_text("other\n")
    result = CliRunner().invoke(app, ["restore", str(out), "--database", url])
    assert result.exit_code == 0, result.output
    assert "s3cr3t" not in result.output
    assert _names(url) == {"acme-vpc"}  # the change gone, the earlier rows back
    assert (home / "operator.token").read_text() == token
    assert (home / "agents" / "n7.secret").read_text() == secret
    before = home / "facade.dump.before-restore"
    assert before.stat().st_mode & 0o077 == 0 and "public.networks" in pgdump.tables(before)
    # the restored store is one a control plane starts on, its sequences where they were
    ctx = Context.open(home, FakeDataPlane(), url)
    networks.create_network(ctx, OPERATOR, "after-vpc", "acme", "10.2.0.0/16", [])
    ctx.engine.dispose()
    assert _names(url) == {"acme-vpc", "after-vpc"}


def _forged(good: Path, path: Path, **manifest: Any) -> Path:
    with tarfile.open(good) as src, tarfile.open(path, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "MANIFEST.json":
                data = json.dumps({**json.loads(data), **manifest}).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return path


def test_a_restore_refuses_and_changes_nothing(world: tuple[Path, str, Path],
                                              tmp_path: Path, capfd: Any) -> None:
    home, url, good = world
    _sql(url, "UPDATE networks SET name = 'renamed'")
    token = (home / "operator.token").read_text()
    newer = _forged(good, tmp_path / "newer.backup", schema="9999")
    with pytest.raises(backup.Refused, match="newer than this Facade knows"):
        backup.restore(home, newer, url)
    older = backup.known_revisions()[0] - {backup.known_revisions()[1]}
    lying = _forged(good, tmp_path / "lying.backup", schema=sorted(older)[0])
    with pytest.raises(backup.Refused, match="not have the schema its manifest names"):
        backup.restore(home, lying, url)
    sqlite_named = _forged(good, tmp_path / "kind.backup", store="sqlite")
    with pytest.raises(backup.Refused, match="names a 'sqlite' store, and it holds facade.dump"):
        backup.restore(home, sqlite_named, url)
    _sql(url, "CREATE TABLE stray (x int)")
    with pytest.raises(backup.Refused, match="tables the backup does not \\(public.stray\\)"):
        backup.restore(home, good, url)
    assert _names(url) == {"renamed"}
    assert (home / "operator.token").read_text() == token
    assert not (home / "facade.dump.before-restore").exists()
    capfd.readouterr()
    result = CliRunner().invoke(app, ["restore", str(newer)])  # the command: exit 2, one line
    said = capfd.readouterr().err  # (the command's own process says it)
    assert result.exit_code == 2 and "newer than this Facade knows" in said, said
    assert _names(url) == {"renamed"}


def test_a_backup_goes_back_into_its_own_kind_of_store(world: tuple[Path, str, Path],
                                                      tmp_path: Path) -> None:
    home, url, pg_backup = world
    lite = tmp_path / "lite"
    Context.open(lite, FakeDataPlane()).engine.dispose()
    lite_before = (lite / "facade.db").read_bytes()
    with pytest.raises(backup.Refused, match="backup of a PostgreSQL store, and the store of "
                       ".* is SQLite .*--database URL"):
        backup.restore(lite, pg_backup)
    assert (lite / "facade.db").read_bytes() == lite_before
    lite_backup = tmp_path / "lite.backup"
    backup.create(lite, lite_backup)
    _sql(url, "UPDATE networks SET name = 'renamed'")
    with pytest.raises(backup.Refused, match="backup of a SQLite store, and the store of .* is "
                       "the database postgresql://postgres:\\*\\*\\*@/t") as refused:
        backup.restore(home, lite_backup)  # the database the folder's note names
    assert "s3cr3t" not in str(refused.value)
    assert _names(url) == {"renamed"}


def test_a_store_that_cannot_be_used_is_said_in_one_line(
        tmp_path: Path, postgresql_url: str, monkeypatch: Any, capfd: Any) -> None:
    monkeypatch.delenv("FACADE_DATABASE", raising=False)
    home, out = tmp_path / "home", tmp_path / "x.backup"
    gone = _with_password(postgresql_url).replace("@/t", "@/nosuchdb_t", 1)
    with pytest.raises(pgdump.ToolFailed, match="pg_dump failed .*nosuchdb_") as failed:
        backup.create(home, out, gone)
    assert "s3cr3t" not in str(failed.value)
    with pytest.raises(pgdump.ToolFailed, match="not a PostgreSQL database URL"):
        backup.create(home, out, "mysql://facade@db/facade")
    with pytest.raises(pgdump.ToolFailed, match="not a database URL"):
        backup.create(home, out, "postgresql://facade@db:notaport/facade")
    with pytest.raises(backup.Refused, match="has no schema revision"):
        backup.create(home, out, stores.postgresql_url(migrated=False))
    monkeypatch.setenv("FACADE_HOME", str(home))
    capfd.readouterr()
    result = CliRunner().invoke(app, ["backup", str(out), "--database", gone])
    said = capfd.readouterr().err
    assert result.exit_code == 2 and said.startswith("error: pg_dump failed"), said
    assert "s3cr3t" not in said and len(said.strip().splitlines()) == 1
    monkeypatch.setattr(pgdump, "PROGRAM_DIRS", str(tmp_path / "none"))
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    with pytest.raises(pgdump.ToolFailed, match="no pg_dump on this host"):
        backup.create(home, out, postgresql_url)
    assert not out.exists() and not out.with_name("x.backup.partial").exists()
