"""The topology names who owns each node, what makes a subnet provider internal and who was
granted it (docs/composition.md: "Third-party front-ends", "Placement", "Cross-account
interfaces"), in the API's answer and in the tree `facade topology` draws from it, as far as
the caller may see: a node's owner is written on its line where it is not the network's
account; a subnet's uses and grants on the subnet's line."""

from __future__ import annotations

from typing import Any

import pytest

from facade.cli import render_topology
from facade.client.models import Topology
from tests.service.helpers import ok

GRANTS = "/v1/subnets/search-vpc/backend/grants"


@pytest.fixture(autouse=True)
def _off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree as a pipe gets it (200 columns): a COLUMNS of the runner's (a parallel
    worker's) would wrap its lines."""
    monkeypatch.delenv("COLUMNS", raising=False)


def _rows(topo: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(network/subnet, node) -> the node's row."""
    return {(f"{net['name']}/{sub['name']}", n["name"]): n
            for net in topo["networks"] for sub in net["subnets"] for n in sub["nodes"]}


def _subnets(topo: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{net['name']}/{sub['name']}": sub for net in topo["networks"]
            for sub in net["subnets"]}


def _drawn(topo: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    render_topology.topology(Topology.model_validate(topo))
    return capsys.readouterr().out.splitlines()


def _line(lines: list[str], *words: str) -> str:
    (found,) = [line for line in lines if all(w in line for w in words)]
    return found


def test_a_third_party_front_end_is_drawn_with_its_owner(
        lb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    topo = ok(lb.req("GET", "/v1/topology"))
    rows = _rows(topo)
    for subnet in ("acme-vpc/app", "search-vpc/backend", "lb-vpc/mgmt"):
        assert rows[(subnet, "docs-fe")]["account"] == "lbco"
    assert rows[("search-vpc/backend", "docs-b1")]["account"] == "searchco"
    assert rows[("acme-vpc/app", "client")]["account"] == "acme"
    lines = _drawn(topo, capsys)
    fe_lines = [line for line in lines if "docs-fe" in line]
    # in acme's and searchco's networks the front-end is another account's; in lbco's its own
    assert [("owner lbco" in line) for line in fe_lines] == [True, True, False], fe_lines
    assert "owner" not in _line(lines, "docs-b1", "eth0") and "owner" not in _line(lines, "client")
    assert "frontend of docs  owner lbco  10.0.1." in fe_lines[0]
    # the LB provider's own view: its network only, where the node is its own
    mine = ok(lb.req("GET", "/v1/topology", token=lb.lbco))
    assert {r["account"] for r in _rows(mine).values()} == {"lbco"}
    assert not any("owner" in line for line in _drawn(mine, capsys))


def test_a_granted_subnet_and_the_grantees_leg(
        world: Any, capsys: pytest.CaptureFixture[str]) -> None:
    world.changed = True
    assert _subnets(ok(world.req("GET", "/v1/topology")))["search-vpc/backend"][
        "granted_to"] == []
    ok(world.req("POST", GRANTS, token=world.searchco, json={"account": "acme"}), 201)
    ok(world.req("POST", "/v1/instances", token=world.acme, json={
        "name": "leg", "interfaces": [{"subnet": "acme-vpc/app"},
                                      {"subnet": "search-vpc/backend"}]}), 201)
    for token in ("op", world.searchco):  # the operator and the subnet's owner
        topo = ok(world.req("GET", "/v1/topology", token=token))
        assert _subnets(topo)["search-vpc/backend"]["granted_to"] == ["acme"]
        assert _subnets(topo)["search-vpc/mgmt"]["granted_to"] == []
        assert _rows(topo)[("search-vpc/backend", "leg")]["account"] == "acme"
        lines = _drawn(topo, capsys)
        assert "granted to acme" in _line(lines, "backend  10.0.1.0/24")
        assert "granted" not in _line(lines, "mgmt  10.0.200.0/24")
        assert "instance  owner acme  10.0.1." in _line(lines, "leg", "eth1")
    # the grantee sees its leg's instance in its own network, not the other network's grants
    acme = ok(world.req("GET", "/v1/topology", token=world.acme))
    assert [n["name"] for n in acme["networks"]] == ["acme-vpc"]
    assert all(s["granted_to"] == [] for s in _subnets(acme).values())
    # revoked: no longer on the subnet's line; the leg that still uses it stays drawn
    ok(world.req("DELETE", f"{GRANTS}/acme", token=world.searchco))
    topo = ok(world.req("GET", "/v1/topology"))
    assert _subnets(topo)["search-vpc/backend"]["granted_to"] == []
    lines = _drawn(topo, capsys)
    assert "granted" not in _line(lines, "backend  10.0.1.0/24")
    assert "owner acme" in _line(lines, "leg", "eth1")


def test_provider_internal_subnets_say_why(
        lb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    topo = ok(lb.req("GET", "/v1/topology"))
    internal = {path: sub["internal"] for path, sub in _subnets(topo).items()}
    assert internal == {
        "acme-vpc/app": [], "acme-vpc/tiny": [],
        "search-vpc/backend": ["backend of service search", "backend of service search-lb"],
        "search-vpc/mgmt": ["management of service search", "management of service search-lb"],
        "lb-vpc/mgmt": ["management of load-balancer offer edge"]}
    lines = _drawn(topo, capsys)
    assert _line(lines, "mgmt  10.0.200.0/24", "service search-lb").endswith(
        "  internal: management of service search, management of service search-lb")
    assert "internal: management of load-balancer offer edge" in _line(lines, "offer edge")
    assert "internal" not in _line(lines, "app  10.0.1.0/24")
    # each owner sees its own subnets' uses, nothing of the other networks
    mine = ok(lb.req("GET", "/v1/topology", token=lb.lbco))
    assert {p: s["internal"] for p, s in _subnets(mine).items()} == {
        "lb-vpc/mgmt": ["management of load-balancer offer edge"]}
    theirs = ok(lb.req("GET", "/v1/topology", token=lb.searchco))
    assert "offer edge" not in str(theirs) and "lb-vpc" not in str(theirs)
    acme = ok(lb.req("GET", "/v1/topology", token=lb.acme))
    assert all(s["internal"] == [] for s in _subnets(acme).values())
