"""`facade backup` / `facade restore` (store/backup.py) on a real SQLite store: what is written,
what comes back, and every refusal with nothing changed (a PostgreSQL store's:
test_backup_postgresql.py)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from facade.cli import client
from facade.cli.main import app
from facade.dataplane.fake import FakeDataPlane
from facade.service import management, networks
from facade.service.context import Caller, Context
from facade.store import backup
from tests.clirunner import CliRunner
from tests.service.helpers import ok, running_api
from tests.stores import STORE

OPERATOR = Caller(account_id=1, account="operator", operator=True)
SQLITE = pytest.mark.skipif(STORE != "sqlite", reason="a SQLite store's backup; a PostgreSQL "
                            "one's: test_backup_postgresql.py")


def _world(home_parent: Path) -> tuple[Path, str, str]:
    """A control plane's state with a network, an instance and a management secret; stopped."""
    with running_api(home_parent) as api:
        ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201)
        ok(api.req("POST", "/v1/networks", json={
            "name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16",
            "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)
        secret = management.secret(api.ctx.home, 7)
        return api.ctx.home, api.token, secret


@SQLITE
def test_a_backup_restores_the_store_token_and_secrets(tmp_path: Path,
                                                       monkeypatch: Any) -> None:
    home, token, secret = _world(tmp_path / "a")
    out = tmp_path / "facade.backup"
    monkeypatch.setenv("FACADE_HOME", str(home))
    result = CliRunner().invoke(app, ["backup", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o077 == 0  # it holds secrets
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("MANIFEST.json").read())  # type: ignore[union-attr]
    assert names == {"MANIFEST.json", "facade.db", "operator.token", "agents/n7.secret"}
    assert manifest["schema"] == backup.known_revisions()[1] and manifest["format"] == 1
    # the state moves on after the backup: another network, another secret and token
    ctx = Context.open(home, FakeDataPlane())
    networks.create_network(ctx, OPERATOR, "later-vpc", "acme", "10.1.0.0/16", [])
    ctx.engine.dispose()
    (home / "agents" / "n7.secret").write_text("0" * 64 + "\n")
    (home / "operator.token").write_text("other\n")
    monkeypatch.setattr(client.Client, "healthy", lambda self, timeout=1.0: False)
    result = CliRunner().invoke(app, ["restore", str(out)])
    assert result.exit_code == 0, result.output
    assert (home / "operator.token").read_text().strip() == token
    assert (home / "agents" / "n7.secret").read_text().strip() == secret
    assert (home / "facade.db.before-restore").exists()
    ctx = Context.open(home, FakeDataPlane())  # (migrated, as a control plane's start does)
    names = {n.name for n in networks.list_networks(ctx, OPERATOR).items}
    ctx.engine.dispose()
    assert names == {"acme-vpc"}  # as it was when backed up

@SQLITE
def test_a_restore_refuses_what_it_cannot_trust_and_changes_nothing(
        tmp_path: Path, monkeypatch: Any) -> None:
    home, _, _ = _world(tmp_path / "b")
    good = tmp_path / "good.backup"
    backup.create(home, good)
    before = (home / "facade.db").read_bytes()

    def forged(name: str, manifest: dict[str, Any] | None = None,
               extra: dict[str, bytes] | None = None) -> Path:
        path = tmp_path / name
        with tarfile.open(good) as src, tarfile.open(path, "w:gz") as dst:
            for member in src.getmembers():
                data = src.extractfile(member).read()  # type: ignore[union-attr]
                if member.name == "MANIFEST.json" and manifest is not None:
                    data = json.dumps(manifest).encode()
                    member.size = len(data)
                import io
                dst.addfile(member, io.BytesIO(data))
            for extra_name, data in (extra or {}).items():
                info = tarfile.TarInfo(extra_name)
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))
        return path

    newer = forged("newer.backup", {"format": 1, "schema": "9999"})
    with pytest.raises(backup.Refused, match="newer than this Facade knows"):
        backup.restore(home, newer)
    with pytest.raises(backup.Refused, match="not a Facade backup"):
        backup.restore(home, forged("stray.backup", extra={"../../etc/evil": b"x"}))
    with pytest.raises(backup.Refused, match="format"):
        backup.restore(home, forged("format.backup", {"format": 2, "schema": "0019"}))
    junk = tmp_path / "junk.backup"
    junk.write_text("not a tar")
    with pytest.raises(backup.Refused, match="not a Facade backup"):
        backup.restore(home, junk)
    assert (home / "facade.db").read_bytes() == before
    assert not (home / "facade.db.before-restore").exists()
    # through the command: exit 2 and one line; and never while the control plane runs
    monkeypatch.setenv("FACADE_HOME", str(home))
    monkeypatch.setattr(client.Client, "healthy", lambda self, timeout=1.0: False)
    result = CliRunner().invoke(app, ["restore", str(newer)])
    assert result.exit_code == 2
    monkeypatch.setattr(client.Client, "healthy", lambda self, timeout=1.0: True)
    result = CliRunner().invoke(app, ["restore", str(good)])
    assert result.exit_code == 4 and "stop it" in result.output
    assert (home / "facade.db").read_bytes() == before


def test_a_backup_needs_a_store(tmp_path: Path) -> None:
    with pytest.raises(backup.Refused, match="nothing to back up"):
        backup.create(tmp_path / "empty", tmp_path / "x.backup")
    assert not (tmp_path / "x.backup").exists()
