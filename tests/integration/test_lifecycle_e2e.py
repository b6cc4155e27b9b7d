"""Appliance lifecycle on a real control plane: honest readiness, the backend-side source
address, scaling without touching the customer's subnet (and without cutting connections to
backends that stay), deletion and destroy that leave nothing behind, and clean errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root

SCENARIO = """
accounts: [{name: shop}, {name: echoco}]
networks:
  - {name: shop-vpc, account: shop, cidr: 10.0.0.0/16,
     subnets: [{name: web, cidr: 10.0.1.0/24}]}
  - {name: echo-vpc, account: echoco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - {name: echo, account: echoco, workload: http-echo, port: 8080,
     backend_subnet: echo-vpc/backend, management_subnet: echo-vpc/mgmt}
  - {name: mute, account: echoco, command: "sleep 600", port: 9000,
     backend_subnet: echo-vpc/backend, management_subnet: echo-vpc/mgmt}
  - {name: pyhttp, account: echoco, port: 9001,
     command: "PYTHON -m http.server --bind {ip} {port}",
     backend_subnet: echo-vpc/backend, management_subnet: echo-vpc/mgmt}
instances:
  - {name: shopper, account: shop, interfaces: [shop-vpc/web]}
appliances:
  - {name: echo1, account: shop, service: echo, subnet: shop-vpc/web, backends: 3}
"""


@pytest.fixture(scope="module")
def scenario(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "echo.yaml"
    path.write_text(SCENARIO.replace("PYTHON", sys.executable))
    cp.cli("apply", "-f", str(path))
    return path


def _show(cp: ControlPlane, name: str) -> dict[str, Any]:
    return json.loads(cp.cli("appliance", "show", name, "--json").stdout)


def _shopper(cp: ControlPlane) -> str:
    return json.loads(cp.cli("instance", "show", "shopper", "--json").stdout)["netns"]


def test_backends_see_the_frontends_backend_address(cp: ControlPlane, scenario: Path) -> None:
    app = _show(cp, "echo1")
    ep, fe_backend_ip = app["endpoint"]["ip"], app["frontend"]["interfaces"][1]["ip"]
    seen: set[str] = set()
    want = {b["name"] for b in app["backends"]}
    # round robin, but the worker's own probes through the endpoint share the counter:
    # ask until every backend has answered (bounded)
    for _ in range(30):
        if seen == want:
            break
        status, headers, body = nsclient.http(_shopper(cp), ep, 8080, "GET", "/whoami")
        assert status == 200
        who = json.loads(body)
        assert who["client"].split(":")[0] == fe_backend_ip
        seen.add(who["node"])
    assert seen == want


def test_ready_only_after_a_real_request(cp: ControlPlane, scenario: Path) -> None:
    # a workload that never listens: the appliance must not claim to be ready
    cp.cli("appliance", "create", "silent", "--account", "shop", "--service", "mute",
           "--subnet", "shop-vpc/web", "--backends", "1", "--no-wait")
    # a user command that does listen: ready once a connection through the endpoint worked
    cp.cli("appliance", "create", "plain", "--account", "shop", "--service", "pyhttp",
           "--subnet", "shop-vpc/web", "--backends", "2", "--timeout", "30")
    try:
        plain = _show(cp, "plain")
        assert plain["status"] == "ready"
        assert nsclient.http(_shopper(cp), plain["endpoint"]["ip"], 9001)[0] == 200
        silent = _show(cp, "silent")
        assert silent["status"] == "provisioning", silent
        assert not nsclient.can_connect(_shopper(cp), silent["endpoint"]["ip"], 9000)
    finally:
        cp.cli("appliance", "delete", "silent")
        cp.cli("appliance", "delete", "plain")


def test_scale_keeps_customer_subnet_and_live_connections(cp: ControlPlane,
                                                          scenario: Path) -> None:
    app = _show(cp, "echo1")
    ep = app["endpoint"]["ip"]
    used = cp.get("/v1/subnets/shop-vpc/web")["used"]
    ns = _shopper(cp)
    customer_before = nsclient.run("ip", "-n", "fcd-fabric", "-j", "link", "show",
                                   "master", "fcdb1")
    # hold a keep-alive connection on every backend; b1 stays through 3 -> 5 -> 1
    conns = {}
    for _ in range(30):  # until every backend holds one (the counter is shared, see above)
        if len(conns) == 3:
            break
        c = nsclient.NsHTTPConnection(ns, ep, 8080)
        c.request("GET", "/")
        node = c.getresponse().read().decode().strip()
        if node in conns:
            c.close()
        else:
            conns[node] = c
    assert "echo1-b1" in conns
    kept = conns["echo1-b1"]

    cp.cli("appliance", "scale", "echo1", "5")
    scaled = _show(cp, "echo1")
    assert len(scaled["backends"]) == 5 and scaled["status"] == "ready"
    assert scaled["endpoint"]["ip"] == ep
    kept.request("GET", "/")
    assert kept.getresponse().read().decode().strip() == "echo1-b1"

    cp.cli("appliance", "scale", "echo1", "1")
    one = _show(cp, "echo1")
    assert [b["name"] for b in one["backends"]] == ["echo1-b1"]
    kept.request("GET", "/")
    assert kept.getresponse().read().decode().strip() == "echo1-b1"
    assert one["endpoint"]["ip"] == ep
    assert cp.get("/v1/subnets/shop-vpc/web")["used"] == used
    assert nsclient.run("ip", "-n", "fcd-fabric", "-j", "link", "show", "master",
                        "fcdb1") == customer_before
    gone = {b["netns"] for b in scaled["backends"]} - {b["netns"] for b in one["backends"]}
    assert gone and not gone & nsclient.facade_netns()
    for c in conns.values():
        c.close()
    cp.cli("appliance", "scale", "echo1", "3")


def test_delete_leaves_nothing(cp: ControlPlane, scenario: Path) -> None:
    cp.cli("appliance", "create", "tmp", "--account", "shop", "--service", "echo",
           "--subnet", "shop-vpc/web", "--backends", "3")
    app = _show(cp, "tmp")
    nodes = [app["frontend"], *app["backends"]]
    netns = {n["netns"] for n in nodes}
    assert netns <= nsclient.facade_netns()
    fabric_links_before = nsclient.run("ip", "-n", "fcd-fabric", "-o", "link")
    used = {s: cp.get(f"/v1/subnets/{s}")["used"]
            for s in ("shop-vpc/web", "echo-vpc/backend", "echo-vpc/mgmt")}
    cp.cli("appliance", "delete", "tmp")
    assert cp.api("GET", "/v1/appliances/tmp").status_code == 404
    assert not netns & nsclient.facade_netns()
    assert not any(nsclient.processes_mentioning(f"--name {n['name']} ") for n in nodes)
    fabric_links = nsclient.run("ip", "-n", "fcd-fabric", "-o", "link")
    ports = sum(len(n["interfaces"]) for n in nodes)
    assert ports == 3 + 3 * 2
    assert fabric_links.count("\n") == fabric_links_before.count("\n") - ports
    assert cp.get("/v1/subnets/shop-vpc/web")["used"] == used["shop-vpc/web"] - 1
    assert cp.get("/v1/subnets/echo-vpc/backend")["used"] == used["echo-vpc/backend"] - 4
    assert cp.get("/v1/subnets/echo-vpc/mgmt")["used"] == used["echo-vpc/mgmt"] - 4


def test_recreated_appliance_reuses_addresses_and_is_ready(cp: ControlPlane,
                                                           scenario: Path) -> None:
    """The endpoint address comes back to a new front-end at once: neighbours' ARP caches must
    not keep the old front-end's MAC (interfaces get MACs derived from subnet and address)."""
    cp.cli("appliance", "create", "again", "--account", "shop", "--service", "echo",
           "--subnet", "shop-vpc/web", "--backends", "2")
    first = _show(cp, "again")
    ep = first["endpoint"]["ip"]
    assert nsclient.http(_shopper(cp), ep, 8080)[0] == 200  # the client learns the MAC
    cp.cli("appliance", "delete", "again")
    cp.cli("appliance", "create", "again", "--account", "shop", "--service", "echo",
           "--subnet", "shop-vpc/web", "--backends", "2", "--timeout", "5")
    second = _show(cp, "again")
    assert second["endpoint"]["ip"] == ep
    assert second["frontend"]["netns"] != first["frontend"]["netns"]  # ids are never reused
    assert nsclient.http(_shopper(cp), ep, 8080)[0] == 200
    links = json.loads(nsclient.run("ip", "-n", second["frontend"]["netns"], "-j", "link",
                                    "show", "eth0"))
    octets = [int(o) for o in ep.split(".")]
    assert links[0]["address"].split(":")[2:] == [f"{o:02x}" for o in octets]
    cp.cli("appliance", "delete", "again")


def test_bad_input_is_a_clear_error(cp: ControlPlane, scenario: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("accounts: [{name: x}\nnetworks: []\n")
    res = cp.cli("apply", "-f", str(bad), check=False)
    assert res.returncode == 2  # invalid (docs/operations.md, the exit codes)
    assert "bad.yaml:" in res.stderr and "Traceback" not in res.stderr
    res = cp.cli("instance", "create", "dup", "--account", "shop", "--iface",
                 "shop-vpc/web=10.0.9.9", check=False)
    assert res.returncode == 2 and "outside subnet" in res.stderr
    res = cp.cli("appliance", "create", "echo1", "--account", "shop", "--service", "echo",
                 "--subnet", "shop-vpc/web", check=False)
    assert res.returncode == 4 and "already exists" in res.stderr  # a conflict


def test_destroy_leaves_nothing(cp: ControlPlane, scenario: Path) -> None:
    cp.cli("destroy", "-f", str(scenario))
    assert nsclient.facade_netns() <= {"fcd-fabric"}
    assert not nsclient.processes_mentioning("facade.workloads")
    assert cp.items("/v1/appliances") == []
    assert [a["name"] for a in cp.items("/v1/accounts")] == ["operator"]
