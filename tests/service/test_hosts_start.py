"""`hosts: N` at start (service/hosts_start.py, api/settings.py, docs/multi-host.md
"Simulated hosts at start") on the fake driver: h1..hN made if missing and run by the data
plane; a restart with the same N changes nothing; fewer than recorded leaves the extra ones
alone and says so; a removed one is made again; a machine's host of such a name is left
alone. The settings file and `--hosts` are checked before anything starts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from facade.api import server, settings
from facade.domain.errors import Invalid
from facade.service import hosts_start
from facade.store.models import Host
from tests.service.helpers import ok


def _simulated(api: Any) -> dict[str, str]:
    return {h["name"]: h["address"] for h in api.items("/v1/hosts") if h["simulated"]}


def test_hosts_at_start_are_made_once_and_never_removed(api: Any) -> None:
    notes = hosts_start.ensure(api.ctx, 3)
    assert notes == [f"simulated host h{n} made at 172.31.0.{10 + n}" for n in (1, 2, 3)]
    assert _simulated(api) == {"h1": "172.31.0.11", "h2": "172.31.0.12", "h3": "172.31.0.13"}
    assert api.dp.hosts == _simulated(api)  # the data plane runs them
    events = [e for e in api.items("/v1/events") if e["kind"] == "host.created"]
    assert hosts_start.ensure(api.ctx, 3) == []  # a restart: nothing to do
    assert [e for e in api.items("/v1/events") if e["kind"] == "host.created"] == events
    notes = hosts_start.ensure(api.ctx, 1)
    assert len(notes) == 1 and "h2, h3 left alone" in notes[0]
    assert set(_simulated(api)) == {"h1", "h2", "h3"}
    ok(api.req("DELETE", "/v1/hosts/h2"), 204)
    ok(api.req("POST", "/v1/hosts/h3/drain"))
    assert hosts_start.ensure(api.ctx, 3) == ["simulated host h2 made at 172.31.0.12"]
    assert ok(api.req("GET", "/v1/hosts/h3"))["state"] == "draining"  # kept as it is
    assert hosts_start.ensure(api.ctx, 0) == [
        "hosts: 0 asks for fewer simulated hosts than are recorded; h1, h2, h3 left alone "
        "(facade host drain, then facade host remove, to take one out)"]


def test_a_machines_host_of_that_name_is_left_alone(api: Any) -> None:
    with api.ctx.write() as session:
        session.add(Host(name="h1", address="10.9.0.1", state="ready", capacity=50,
                         simulated=False))
    notes = hosts_start.ensure(api.ctx, 2)
    assert notes[0].startswith("host h1 is a machine's") and "left alone" in notes[0]
    assert notes[1:] == ["simulated host h2 made at 172.31.0.11"]
    with pytest.raises(Invalid) as exc:
        hosts_start.ensure(api.ctx, -1)
    assert exc.value.where == "hosts"


@pytest.mark.parametrize(("text", "where", "words"), [
    ("hosts: three\n", "s.yaml:1", "number of simulated hosts"),
    ("hosts: 245\n", "s.yaml:1", "0-244"),
    ("hosts: true\n", "s.yaml:1", "not the boolean true"),
    ("hosts: 2\nhost: 3\n", "s.yaml:2", "unknown setting 'host'"),
    ("[1, 2]\n", "s.yaml", "one mapping"),
    ("hosts: [\n", "s.yaml:", "could not parse YAML"),
])
def test_a_bad_settings_file_names_where(tmp_path: Path, text: str, where: str,
                                         words: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(Invalid) as exc:
        settings.read(path)
    assert exc.value.where is not None and where in exc.value.where, exc.value.where
    assert words in exc.value.message


def test_settings_file_and_the_option(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "facade.yaml"
    path.write_text("# the control plane's settings\nhosts: 3\n")
    assert settings.read(path) == settings.Settings(hosts=3)
    (tmp_path / "empty.yaml").write_text("")
    assert settings.read(tmp_path / "empty.yaml").hosts is None
    parser = argparse.ArgumentParser(prog="facade up")
    assert server._start_hosts(parser, path, None) == 3
    assert server._start_hosts(parser, path, 1) == 1  # the option wins
    assert server._start_hosts(parser, None, None) is None
    for bad in ((path, -2), (tmp_path / "missing.yaml", None)):
        with pytest.raises(SystemExit):
            server._start_hosts(parser, *bad)
    err = capsys.readouterr().err
    assert "--hosts: hosts is a number of simulated hosts" in err
    assert "missing.yaml: cannot read the settings file" in err
