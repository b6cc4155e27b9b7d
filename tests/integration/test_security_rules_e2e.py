"""Security rules on real namespaces (root): a customer's rules stop its own instances' traffic
in the fabric, statefully, per bridge port; they never touch the appliance's management path
(agents stay reachable and keep checking the backends' workloads); removing them restores
traffic; the kernel holds what Facade says, a second pass changes nothing, drift is repaired."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Iterator
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
instances:
  - {name: alpha, account: shop, interfaces: [shop-vpc/web]}
  - {name: beta, account: shop, interfaces: [shop-vpc/web]}
appliances:
  - {name: echo1, account: shop, service: echo, subnet: shop-vpc/web, backends: 2}
"""
LISTENER = ("import socket,sys,threading\n"
            "def serve(p):\n"
            "    s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            "    s.bind((sys.argv[1],p)); s.listen(64)\n"
            "    while True: s.accept()[0].close()\n"
            "ps=[int(p) for p in sys.argv[2:]]\n"
            "[threading.Thread(target=serve,args=(p,),daemon=True).start() for p in ps[1:]]\n"
            "serve(ps[0])\n")


def _instance(cp: ControlPlane, name: str) -> tuple[str, str]:
    row = json.loads(cp.cli("instance", "show", name, "--json").stdout)
    return row["netns"], row["interfaces"][0]["ip"]


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(SCENARIO)
    cp.cli("apply", "-f", str(path))
    (a_ns, a_ip), (b_ns, b_ip) = _instance(cp, "alpha"), _instance(cp, "beta")
    procs = [subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", LISTENER, ip,
                               *ports], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for ns, ip, ports in ((a_ns, a_ip, ("7000",)), (b_ns, b_ip, ("8080", "9090")))]
    try:
        cp.wait_for(lambda: nsclient.can_connect(a_ns, b_ip, 9090)
                    and nsclient.can_connect(b_ns, a_ip, 7000), timeout=10, what="listeners")
        app = json.loads(cp.cli("appliance", "show", "echo1", "--json").stdout)
        yield {"a": a_ns, "a_ip": a_ip, "b": b_ns, "b_ip": b_ip, "path": path,
               "endpoint": app["endpoint"]["ip"]}
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=5)


def _rule(cp: ControlPlane, scope: str, ref: str, *args: str) -> None:
    cp.cli("rule", "add", f"--{scope}", ref, *args)


def _endpoint_ok(w: dict[str, Any], netns: str) -> bool:
    if not nsclient.can_connect(netns, w["endpoint"], 8080):
        return False
    return nsclient.http(netns, w["endpoint"], 8080, timeout=2.0)[0] == 200


def test_interface_rule_is_stateful_and_per_port(cp: ControlPlane, world: dict[str, Any]) -> None:
    w = world
    _rule(cp, "interface", "beta/eth0", "--direction", "ingress", "--action", "deny",
          "--protocol", "tcp", "--ports", "8080", "--priority", "10")
    assert not nsclient.can_connect(w["a"], w["b_ip"], 8080)
    assert nsclient.can_connect(w["a"], w["b_ip"], 9090)
    assert nsclient.can_connect(w["b"], w["a_ip"], 7000)  # beta's egress, allowed
    # beta now refuses every TCP connection towards it, yet its own connections get replies
    _rule(cp, "interface", "beta/eth0", "--direction", "ingress", "--action", "deny",
          "--protocol", "tcp", "--priority", "20")
    assert not nsclient.can_connect(w["a"], w["b_ip"], 9090)
    assert nsclient.can_connect(w["b"], w["a_ip"], 7000)
    listed = json.loads(cp.cli("rule", "list", "--interface", "beta/eth0", "--json").stdout)
    assert [r["priority"] for r in listed] == [10, 20]
    for prio in ("10", "20"):
        cp.cli("rule", "delete", "--interface", "beta/eth0", "--direction", "ingress",
               "--priority", prio)
    assert nsclient.can_connect(w["a"], w["b_ip"], 8080)
    assert nsclient.can_connect(w["a"], w["b_ip"], 9090)


def _events(cp: ControlPlane) -> list[dict[str, Any]]:
    return [e for e in cp.events()
            if e["kind"] == "reconcile.set_port_rules"]


def _fabric_rules() -> dict[str, Any] | None:
    res = subprocess.run(["ip", "netns", "exec", "fcd-fabric", "nft", "-j", "list", "table",
                          "bridge", "fcd_rules"], capture_output=True, text=True, timeout=10)
    return json.loads(res.stdout) if res.returncode == 0 else None


def test_deny_all_spares_the_management_path(cp: ControlPlane, world: dict[str, Any]) -> None:
    w = world
    assert _endpoint_ok(w, w["a"])
    for direction in ("ingress", "egress"):
        _rule(cp, "subnet", "shop-vpc/web", "--direction", direction, "--action", "deny",
              "--protocol", "any", "--cidr", "0.0.0.0/0", "--priority", "100")
    applied = dt.datetime.now(dt.UTC)
    try:
        # (2) the customer's own instances: cut from each other and from the endpoint
        assert not nsclient.can_connect(w["a"], w["b_ip"], 9090)
        assert not nsclient.can_connect(w["b"], w["a_ip"], 7000)
        assert not _endpoint_ok(w, w["a"])
        assert not _endpoint_ok(w, w["b"])

        # ... but the appliance's nodes are still checked through their management agents
        def fresh() -> dict[str, Any] | None:
            app = json.loads(cp.cli("appliance", "show", "echo1", "--json").stdout)
            nodes = [app["frontend"], *app["backends"]]
            mgmt = [n.get("management") or {} for n in nodes]
            if all(m.get("reachable") and m.get("checked")
                   and dt.datetime.fromisoformat(m["checked"]) > applied for m in mgmt):
                return app
            return None

        app = cp.wait_for(fresh, timeout=15, what="fresh management checks after the rules")
        for b in app["backends"]:
            assert b["management"]["workload"]["ok"] is True, b

        # ... and metered over the same path: a request the workload serves (made here from
        # inside the backend's own namespace) reaches the usage records through its agent
        def requests() -> int:
            rows = cp.items("/v1/usage", params={"appliance": "echo1"})
            return int(rows[0]["requests"]) if rows else 0

        counted = requests()
        b0 = app["backends"][0]
        assert nsclient.http(b0["netns"], b0["interfaces"][0]["ip"], app["endpoint"]["port"],
                             path="/metered")[0] == 200
        cp.wait_for(lambda: requests() == counted + 1, timeout=15,
                    what="the request metered through the agent while the subnet denies all")

        # (4) the kernel holds the rules; an idle reconcile plans nothing for them
        table = _fabric_rules()
        assert table is not None
        chains = {o["chain"]["name"] for o in table["nftables"] if "chain" in o}
        assert {c for c in chains if c.startswith(("in_", "out_"))}, chains
        ct = json.loads(nsclient.run("ip", "netns", "exec", "fcd-fabric", "nft", "-j", "list",
                                     "table", "ip", "fcd_rules_ct"))
        zoned = [o["rule"] for o in ct["nftables"]
                 if "rule" in o and o["rule"]["chain"] == "zone"]
        assert len(zoned) == 1, zoned  # the customer's subnet only: its own conntrack zone
        before = len(_events(cp))
        time.sleep(2.0)
        assert len(_events(cp)) == before
        # someone deletes the table behind Facade's back: repaired within a few seconds
        nsclient.run("ip", "netns", "exec", "fcd-fabric", "nft", "delete", "table", "bridge",
                     "fcd_rules")
        cp.wait_for(_fabric_rules, timeout=5, what="the rules table to be restored")
        assert not nsclient.can_connect(w["a"], w["b_ip"], 9090)
        assert any(e["message"].startswith("drift: ") for e in _events(cp))
    finally:
        for direction in ("ingress", "egress"):
            cp.cli("rule", "delete", "--subnet", "shop-vpc/web", "--direction", direction,
                   "--priority", "100")
    # (3) removing the rules restores traffic, and the tables go
    assert nsclient.can_connect(w["a"], w["b_ip"], 9090)
    assert nsclient.can_connect(w["b"], w["a_ip"], 7000)
    assert _endpoint_ok(w, w["a"])
    assert _fabric_rules() is None


def test_yaml_rules_apply_and_destroy(cp: ControlPlane, world: dict[str, Any]) -> None:
    w = world
    path: Path = w["path"].with_name("deny.yaml")
    path.write_text("rules:\n  - {interface: alpha/eth0, direction: egress, action: deny,\n"
                    "     protocol: tcp, ports: '9090', priority: 5}\n")
    assert "created" in cp.cli("apply", "-f", str(path)).stdout
    assert not nsclient.can_connect(w["a"], w["b_ip"], 9090)
    assert "nothing to change" in cp.cli("apply", "-f", str(path)).stdout
    cp.cli("destroy", "-f", str(path))
    assert nsclient.can_connect(w["a"], w["b_ip"], 9090)
