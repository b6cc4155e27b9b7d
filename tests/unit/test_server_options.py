"""The control plane's own options, checked before it starts anything (the server refuses to
run without root right after them: here that is where it stops)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from facade.api import server


@pytest.mark.parametrize(("host", "warned"), [
    ("0.0.0.0", True), ("10.1.2.3", True), ("example.org", True), ("127.0.0.1", False),
    ("127.9.9.9", False), ("::1", False), ("localhost", False)])
def test_serving_beyond_loopback_without_tls_is_warned_of(
        host: str, warned: bool, monkeypatch: Any, capsys: Any, tmp_path: Path) -> None:
    monkeypatch.setattr(server.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("FACADE_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit, match="needs root"):
        server.main(["--host", host, "--port", "1"])
    assert ("without TLS" in capsys.readouterr().err) is warned
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize(("url", "said"), [
    ("postgresql://facade:s3cret@127.0.0.1:1/facade",
     "cannot connect to the store postgresql://facade:***@127.0.0.1:1/facade: "
     "connection failed: "),
    ("postgresql://facade@/facade?host=/nonexistent",
     'connection to server on socket "/nonexistent/.s.PGSQL.5432" failed'),
    ("mysql://facade@db/facade", "the store is SQLite (the default) or PostgreSQL"),
    ("postgresql://facade@db:notaport/facade", "is not a database URL Facade can use"),
])
def test_a_store_that_cannot_be_used_stops_it_at_start_naming_it_and_why(
        url: str, said: str, monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setattr(server.os, "geteuid", lambda: 0)  # it stops before needing root
    monkeypatch.setenv("FACADE_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as stopped:
        server.main(["--database", url, "--port", "1"])
    message = str(stopped.value.code)
    assert message.startswith("facade up: ") and said in message, message
    assert "s3cret" not in message and "Traceback" not in message
    assert not (tmp_path / "home").exists()


def test_the_store_url_comes_from_facade_database_too(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("FACADE_DATABASE", "postgresql://facade@/facade?host=/nonexistent")
    monkeypatch.setenv("FACADE_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit, match="cannot connect to the store"):
        server.main(["--port", "1"])


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("0", False),
                                           (" 0 ", False), ("", True)])
def test_simulated_hosts_run_on_their_agents_unless_told_not_to(
        value: str | None, on: bool, monkeypatch: Any) -> None:
    if value is None:
        monkeypatch.delenv(server.AGENTS_ENV, raising=False)
    else:
        monkeypatch.setenv(server.AGENTS_ENV, value)
    assert server._agents_default(argparse.ArgumentParser()) is on


@pytest.mark.parametrize("value", ["yes", "true", "2", "off"])
def test_a_simulated_agents_value_it_cannot_read_stops_it_at_start_naming_it(
        value: str, monkeypatch: Any, capsys: Any, tmp_path: Path) -> None:
    monkeypatch.setattr(server.os, "geteuid", lambda: 1000)
    monkeypatch.setenv(server.AGENTS_ENV, value)
    monkeypatch.setenv("FACADE_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as stopped:
        server.main(["--port", "1"])
    assert stopped.value.code == 2  # argparse's: before anything is made
    assert f"FACADE_SIMULATED_AGENTS='{value}': use 1" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()
    with pytest.raises(SystemExit, match="needs root"):  # the option wins over the variable
        server.main(["--port", "1", "--no-simulated-agents"])
