"""Rule-by-rule drift repair on a real control plane (root): with security rules in force,
someone edits the fabric's nftables behind the control plane's back (deletes one rule, adds an
accept rule, flushes one chain) or a front-end's rotation map and chains. Each time the worker
notices within seconds and puts back exactly what it wrote; a real connection shows the rule
enforced again, an event names the repair, and the next passes change nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
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
rules:
  - {interface: beta/eth0, direction: ingress, action: deny, protocol: tcp, ports: '8080',
     priority: 10}
  - {interface: beta/eth0, direction: egress, action: deny, protocol: tcp, ports: '7000',
     priority: 10}
"""
LISTENER = ("import socket,sys,threading\n"
            "def serve(p):\n"
            "    s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            "    s.bind((sys.argv[1],p)); s.listen(64)\n"
            "    while True: s.accept()[0].close()\n"
            "ps=[int(p) for p in sys.argv[2:]]\n"
            "[threading.Thread(target=serve,args=(p,),daemon=True).start() for p in ps[1:]]\n"
            "serve(ps[0])\n")
FABRIC = "fcd-fabric"
REPAIR_WITHIN = 5.0  # seconds: the worker's idle pass runs every second


def _instance(cp: ControlPlane, name: str) -> tuple[str, str]:
    row = json.loads(cp.cli("instance", "show", name, "--json").stdout)
    return row["netns"], row["interfaces"][0]["ip"]


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("drift") / "drift.yaml"
    path.write_text(SCENARIO)
    cp.cli("apply", "-f", str(path))
    (a_ns, a_ip), (b_ns, b_ip) = _instance(cp, "alpha"), _instance(cp, "beta")
    procs = [subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", LISTENER, ip,
                               *ports], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for ns, ip, ports in ((a_ns, a_ip, ("7000", "7001")), (b_ns, b_ip, ("8080", "9090")))]
    try:
        cp.wait_for(lambda: nsclient.can_connect(a_ns, b_ip, 9090)
                    and nsclient.can_connect(b_ns, a_ip, 7001), timeout=10, what="listeners")
        app = cp.get("/v1/appliances/echo1")
        yield {"a": a_ns, "a_ip": a_ip, "b": b_ns, "b_ip": b_ip, "app": app}
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=5)


def _nft(netns: str, *args: str) -> str:
    return nsclient.run("ip", "netns", "exec", netns, "nft", *args)


def _table(netns: str, family: str, name: str) -> list[dict[str, Any]]:
    """A table as the kernel lists it (handles included), read with the `nft` tool."""
    return list(json.loads(_nft(netns, "-j", "list", "table", family, name))["nftables"])


def _rules(table: list[dict[str, Any]], chain: str) -> list[dict[str, Any]]:
    return [o["rule"] for o in table if o.get("rule", {}).get("chain") == chain]


def _port_chain(table: list[dict[str, Any]], prefix: str) -> str:
    (name,) = [o["chain"]["name"] for o in table
               if o.get("chain", {}).get("name", "").startswith(prefix)]
    return str(name)


def _event_count(cp: ControlPlane) -> int:
    return len([e for e in cp.events()
                if e["kind"].startswith("reconcile.")])


def _wait_for_event(cp: ControlPlane, kind: str, after: int, *words: str) -> dict[str, Any]:
    """The first reconcile event after `after` of them, of `kind`, naming every word."""
    def found() -> dict[str, Any] | None:
        events = [e for e in cp.events()
                  if e["kind"].startswith("reconcile.")]  # oldest first
        for e in events[after:]:
            if e["kind"] == kind and all(w in e["message"] for w in words):
                return e
        return None

    event: dict[str, Any] = cp.wait_for(found, timeout=REPAIR_WITHIN,
                                        what=f"a {kind} event naming {words}")
    return event


def _settled(cp: ControlPlane, netns: str, family: str, table: str) -> None:
    """A whole idle pass later (they run every second): no reconcile event, and the table not
    rewritten (same handles; sets aside: a front-end's meters count traffic)."""
    def shape() -> list[dict[str, Any]]:
        return [o for o in _table(netns, family, table) if "set" not in o]

    count, before = _event_count(cp), shape()
    time.sleep(1.5)
    assert _event_count(cp) == count, "a second pass must plan nothing"
    assert shape() == before


def _outcome(netns: str, ip: str, port: int, timeout: float = 0.5) -> str:
    """One real connection attempt: "connected", "refused" (a reset) or "dropped" (silence)."""
    sock = nsclient.ns_socket(netns)
    sock.settimeout(timeout)
    try:
        sock.connect((ip, port))
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "dropped"
    finally:
        sock.close()


def _denied(netns: str, ip: str, port: int) -> bool:
    """A real connection attempt is dropped (a rule's `drop`), not answered."""
    return _outcome(netns, ip, port) == "dropped"


def test_rules_are_enforced_and_idle(cp: ControlPlane, world: dict[str, Any]) -> None:
    w = world
    assert _denied(w["a"], w["b_ip"], 8080)
    assert nsclient.can_connect(w["a"], w["b_ip"], 9090)
    assert _denied(w["b"], w["a_ip"], 7000)
    assert nsclient.can_connect(w["b"], w["a_ip"], 7001)
    assert _outcome(w["a"], w["app"]["endpoint"]["ip"], 22) == "dropped"


@pytest.mark.parametrize("edit", ["delete-rule", "add-accept", "flush-chain"])
def test_an_edited_rule_table_is_repaired(cp: ControlPlane, world: dict[str, Any],
                                          edit: str) -> None:
    w = world
    table = _table(FABRIC, "bridge", "fcd_rules")
    inbound, outbound = _port_chain(table, "in_"), _port_chain(table, "out_")
    port = inbound.removeprefix("in_")
    after = _event_count(cp)
    if edit == "delete-rule":
        (rule,) = _rules(table, inbound)
        _nft(FABRIC, "delete", "rule", "bridge", "fcd_rules", inbound, "handle",
             str(rule["handle"]))
        words = (f"{port} ingress: deny tcp 8080 (priority 10) missing",)
    elif edit == "add-accept":
        # before the jumps: frames towards beta skip its rules
        _nft(FABRIC, "insert", "rule", "bridge", "fcd_rules", "forward", "oifname", port,
             "accept")
        words = ("chain forward: 1 unexpected rule",)
    else:
        _nft(FABRIC, "flush", "chain", "bridge", "fcd_rules", outbound)
        words = (f"{port} egress: deny tcp 7000 (priority 10) missing",)
    started = time.monotonic()
    # (a) the rule is enforced again, shown by real connections, within a few seconds
    if edit == "flush-chain":
        cp.wait_for(lambda: _denied(w["b"], w["a_ip"], 7000), timeout=REPAIR_WITHIN,
                    what="beta's egress rule enforced again")
    else:
        cp.wait_for(lambda: _denied(w["a"], w["b_ip"], 8080), timeout=REPAIR_WITHIN,
                    what="beta's ingress rule enforced again")
    assert time.monotonic() - started < REPAIR_WITHIN
    assert nsclient.can_connect(w["a"], w["b_ip"], 9090)  # what is allowed still is
    repaired = _table(FABRIC, "bridge", "fcd_rules")
    assert [r["expr"] for r in _rules(repaired, inbound)] == \
        [r["expr"] for r in _rules(table, inbound)]
    assert [r["expr"] for r in _rules(repaired, "forward")] == \
        [r["expr"] for r in _rules(table, "forward")]
    # (b) an event says what was repaired
    event = _wait_for_event(cp, "reconcile.set_port_rules", after, "drift: ", *words)
    assert event["object"] == "fabric"
    # (c) and then nothing more is planned
    _settled(cp, FABRIC, "bridge", "fcd_rules")


def _answers(w: dict[str, Any], tries: int = 12) -> set[str]:
    """The backends that answer through the endpoint, over a few real requests."""
    seen: set[str] = set()
    for _ in range(tries):
        status, _, body = nsclient.http(w["a"], w["app"]["endpoint"]["ip"], 8080, timeout=2)
        assert status == 200
        seen.add(body.decode().strip())
        if len(seen) == len(w["app"]["backends"]):
            break
    return seen


def test_an_edited_rotation_map_is_repaired(cp: ControlPlane, world: dict[str, Any]) -> None:
    w = world
    fe = w["app"]["frontend"]["netns"]
    names = {b["name"] for b in w["app"]["backends"]}
    cp.wait_for(lambda: _answers(w) == names, timeout=10, what="both backends answering")
    (before,) = [o["map"] for o in _table(fe, "ip", "fcd_fe") if "map" in o]
    slots = {i: ip for i, ip in before["elem"]}
    assert len(slots) == 60 and len(set(slots.values())) == 2
    # every slot but one to the first backend: both stay "in rotation", the balance is gone
    first = slots[0]
    after = _event_count(cp)
    skew = ", ".join(f"{i} : {first}" for i in slots if slots[i] != first and i != 1)
    _nft(fe, "delete", "element", "ip", "fcd_fe", "backends",
         "{ " + ", ".join(str(i) for i in slots if slots[i] != first and i != 1) + " }")
    _nft(fe, "add", "element", "ip", "fcd_fe", "backends", "{ " + skew + " }")

    def balanced() -> bool:
        (now,) = [o["map"] for o in _table(fe, "ip", "fcd_fe") if "map" in o]
        return {i: ip for i, ip in now["elem"]} == slots

    cp.wait_for(balanced, timeout=REPAIR_WITHIN, what="the map to be put back")
    assert _answers(w) == names  # round robin over both again, by real requests
    _wait_for_event(cp, "reconcile.set_backends", after,
                    "drift: map backends: 29 slots differ from the rotation")
    _settled(cp, fe, "ip", "fcd_fe")


def test_an_edited_front_end_chain_is_repaired(cp: ControlPlane, world: dict[str, Any]) -> None:
    w = world
    fe = w["app"]["frontend"]["netns"]
    table = _table(fe, "ip", "fcd_fe")
    last = _rules(table, "input")[-1]  # iifname "eth0" drop: the customer reaches nothing else
    assert last["expr"][-1] == {"drop": None}
    after = _event_count(cp)
    _nft(fe, "delete", "rule", "ip", "fcd_fe", "input", "handle", str(last["handle"]))
    cp.wait_for(lambda: [r["expr"] for r in _rules(_table(fe, "ip", "fcd_fe"), "input")]
                == [r["expr"] for r in _rules(table, "input")],
                timeout=REPAIR_WITHIN, what="the front-end's input chain to be put back")
    # the front-end drops, again, what the customer sends it besides the endpoint's port
    # (without that rule the kernel answers with a reset)
    assert _outcome(w["a"], w["app"]["endpoint"]["ip"], 22) == "dropped"
    _wait_for_event(cp, "reconcile.ensure_node", after,
                    "drift: front-end chains changed since Facade wrote them")
    assert _answers(w) == {b["name"] for b in w["app"]["backends"]}
    _settled(cp, fe, "ip", "fcd_fe")
