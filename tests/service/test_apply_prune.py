"""`facade apply --prune` against the real API on the fake data plane: it deletes what earlier
applies of the file declared and the file no longer does, never an object the file did not
declare; it asks first (refuses without a terminal unless --yes); `--dry-run --prune` prints
the deletes and changes nothing. Checked over the raw API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from facade.cli import client
from facade.cli.commands import manifests
from facade.cli.main import app
from tests.clirunner import CliRunner

V1 = """
accounts: [{name: acme}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16,
     subnets: [{name: app, cidr: 10.0.1.0/24}, {name: db, cidr: 10.0.2.0/24}]}
  - {name: lab-vpc, account: acme, cidr: 10.1.0.0/16, subnets: [{name: a, cidr: 10.1.1.0/24}]}
instances:
  - {name: web, account: acme, interfaces: [acme-vpc/app]}
  - {name: worker, account: acme, interfaces: [acme-vpc/app]}
  - {name: probe, account: acme, interfaces: [lab-vpc/a]}
rules:
  - {subnet: acme-vpc/app, direction: ingress, action: allow, protocol: tcp, ports: "80",
     priority: 10}
"""
# worker, probe, lab-vpc and the rule leave; the db subnet leaves a network still declared
V2 = """
accounts: [{name: acme}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
instances:
  - {name: web, account: acme, interfaces: [acme-vpc/app]}
"""


@pytest.fixture
def cli(api: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The CLI's HTTP seam on the test control plane in-process, as the operator, with its
    own state folder."""
    monkeypatch.setattr(client, "transport_factory", lambda: api.client._transport)
    monkeypatch.setenv("FACADE_TOKEN", api.token)
    monkeypatch.delenv("FACADE_URL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return api


def write(tmp_path: Path, text: str, name: str = "acme.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=stdin)


def names(api: Any, path: str) -> list[str]:
    return sorted(o["name"] for o in api.items(path))


def rule_count(api: Any) -> int:
    return len(api.items("/v1/subnets/acme-vpc/app/rules"))


def test_prune_deletes_only_what_the_file_declared_before(cli: Any, tmp_path: Path) -> None:
    file = write(tmp_path, V1)
    assert run("apply", "-f", file).exit_code == 0
    # an object the file never declared, in a network the file manages
    assert cli.req("POST", "/v1/instances", json={
        "name": "by-hand", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]},
    ).status_code == 201
    assert rule_count(cli) == 1
    write(tmp_path, V2)
    result = run("apply", "-f", file, "--prune", "--yes")
    assert result.exit_code == 0, result.output
    for line in ("deleted instance worker", "deleted instance probe", "deleted network lab-vpc"):
        assert line in result.stdout, result.stdout
    assert "not pruned: subnet acme-vpc/db" in result.stderr
    assert names(cli, "/v1/instances") == ["by-hand", "web"]
    assert names(cli, "/v1/networks") == ["acme-vpc"]
    assert rule_count(cli) == 0
    assert sorted(s["name"] for s in cli.items("/v1/subnets")) == ["acme-vpc/app", "acme-vpc/db"]
    # pruned once: the next prune has nothing left to delete
    again = run("apply", "-f", file, "--prune")
    assert again.exit_code == 0 and "nothing to change" in again.stdout and "delete" not in \
        again.stdout


def test_what_left_the_file_without_prune_is_pruned_later(cli: Any, tmp_path: Path) -> None:
    file = write(tmp_path, V1)
    assert run("apply", "-f", file).exit_code == 0
    write(tmp_path, V2)
    assert run("apply", "-f", file).exit_code == 0  # no --prune: nothing deleted...
    assert names(cli, "/v1/instances") == ["probe", "web", "worker"]
    result = run("apply", "-f", file, "--prune", "--yes")  # ...but remembered
    assert result.exit_code == 0, result.output
    assert names(cli, "/v1/instances") == ["web"]


def test_dry_run_prune_prints_the_deletes_and_changes_nothing(cli: Any, tmp_path: Path) -> None:
    file = write(tmp_path, V1)
    assert run("apply", "-f", file).exit_code == 0
    before = (names(cli, "/v1/instances"), names(cli, "/v1/networks"), rule_count(cli))
    write(tmp_path, V2)
    result = run("apply", "-f", file, "--dry-run", "--prune")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for line in ("delete instance acme/worker", "delete instance acme/probe",
                 "delete network acme/lab-vpc",
                 "delete rule acme-vpc/app/ingress/10"):
        assert line in lines, result.stdout
    assert (names(cli, "/v1/instances"), names(cli, "/v1/networks"), rule_count(cli)) == before
    # and it recorded nothing: a real prune still finds them
    assert run("apply", "-f", file, "--prune", "-y").exit_code == 0
    assert names(cli, "/v1/instances") == ["web"]


def test_prune_asks_and_refuses_without_a_terminal(cli: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    file = write(tmp_path, V1)
    assert run("apply", "-f", file).exit_code == 0
    write(tmp_path, V2)
    result = run("apply", "-f", file, "--prune")  # CliRunner's stdin is no terminal
    assert result.exit_code == 2, result.output
    assert "no terminal to ask on: give --yes" in result.stderr
    assert "instance acme/worker" in result.stderr
    monkeypatch.setattr(manifests, "_interactive", lambda: True)
    no = run("apply", "-f", file, "--prune", stdin="n\n")
    assert no.exit_code == 1 and "nothing applied, nothing deleted" in no.stderr
    assert names(cli, "/v1/instances") == ["probe", "web", "worker"]
    yes = run("apply", "-f", file, "--prune", stdin="y\n")
    assert yes.exit_code == 0, yes.output
    assert "--prune will delete: " in yes.stdout
    assert names(cli, "/v1/instances") == ["web"]


def test_a_file_never_applied_here_prunes_nothing(cli: Any, tmp_path: Path) -> None:
    """Objects that exist but this set never declared (applied from another path or by hand)
    are never candidates."""
    assert run("apply", "-f", write(tmp_path, V1, "first.yaml")).exit_code == 0
    result = run("apply", "-f", write(tmp_path, V2, "second.yaml"), "--prune", "--yes")
    assert result.exit_code == 0, result.output
    assert names(cli, "/v1/instances") == ["probe", "web", "worker"]


def test_stdin_needs_a_set_name_and_sets_are_apart(cli: Any, tmp_path: Path) -> None:
    result = run("apply", "-f", "-", "--prune", "--yes", stdin=V1)
    assert result.exit_code == 2 and "--set NAME" in result.output
    assert names(cli, "/v1/instances") == []  # refused before anything was sent
    assert run("apply", "-f", "-", "--set", "acme", stdin=V1).exit_code == 0
    other = run("apply", "-f", "-", "--set", "other", "--prune", "--yes", stdin=V2)
    assert other.exit_code == 0 and names(cli, "/v1/instances") == ["probe", "web", "worker"]
    same = run("apply", "-f", "-", "--set", "acme", "--prune", "--yes", stdin=V2)
    assert same.exit_code == 0, same.output
    assert names(cli, "/v1/instances") == ["web"]


def test_a_failed_apply_prunes_nothing(cli: Any, tmp_path: Path) -> None:
    file = write(tmp_path, V1)
    assert run("apply", "-f", file).exit_code == 0
    write(tmp_path, V2 + "  - {name: bad, account: nobody, interfaces: [acme-vpc/app]}\n")
    result = run("apply", "-f", file, "--prune", "--yes")
    assert result.exit_code == 3, result.output  # the account `nobody` is not found
    assert names(cli, "/v1/instances") == ["probe", "web", "worker"]
