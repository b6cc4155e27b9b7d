"""The kernel state outlives the control plane and the control plane repairs the kernel:
a restart adopts what exists (and plans nothing), a killed workload leaves the rotation and is
restarted, a namespace deleted behind the control plane's back is rebuilt."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import (
    ControlPlane,
    start_control_plane,
    stop_control_plane,
)

pytestmark = pytest.mark.root

SCENARIO = """
accounts: [{name: shop}, {name: echoco}]
networks:
  - {name: shop-vpc, account: shop, cidr: 10.0.0.0/16, subnets: [{name: web, cidr: 10.0.1.0/24}]}
  - {name: echo-vpc, account: echoco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - {name: echo, account: echoco, workload: http-echo, port: 8080,
     backend_subnet: echo-vpc/backend, management_subnet: echo-vpc/mgmt}
instances:
  - {name: shopper, account: shop, interfaces: [shop-vpc/web]}
appliances:
  - {name: echo1, account: shop, service: echo, subnet: shop-vpc/web, backends: 3}
"""


@pytest.fixture(scope="module")
def echo1(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("scenario") / "echo.yaml"
    path.write_text(SCENARIO)
    cp.cli("apply", "-f", str(path))
    return cp.get("/v1/appliances/echo1")


def _rotation(fe_netns: str) -> set[str]:
    """The front-end's rotation, read from the kernel with nft (not through Facade)."""
    ruleset = nsclient.nft_ruleset(fe_netns)["nftables"]
    for obj in ruleset:
        if obj.get("map", {}).get("name") == "backends":
            return {e[1] for e in obj["map"].get("elem", [])}
    raise AssertionError("no backends map")


def _without_counters(ruleset: dict[str, Any]) -> dict[str, Any]:
    """The ruleset without the meter sets' elements (traffic adds and counts them)."""
    out = json.loads(json.dumps(ruleset))
    for obj in out["nftables"]:
        if obj.get("set", {}).get("name", "").startswith("m_"):
            obj["set"].pop("elem", None)
    return out


def _workload_pid(node: str) -> int:
    (pid,) = nsclient.processes_mentioning(f"--name {node} ")
    return pid


def _reconcile_events(cp: ControlPlane) -> list[dict[str, Any]]:
    return [e for e in cp.events()
            if e["kind"].startswith("reconcile.")]


def test_restart_adopts_the_kernel_state(cp: ControlPlane, echo1: dict[str, Any]) -> None:
    pids = {b["name"]: _workload_pid(b["name"]) for b in echo1["backends"]}
    netns = nsclient.facade_netns()
    ruleset = _without_counters(nsclient.nft_ruleset(echo1["frontend"]["netns"]))
    before = len(_reconcile_events(cp))
    stop_control_plane(cp)
    # with the control plane down, the appliance keeps serving
    shopper_ns = next(n for n in netns if n.endswith("-shopper"))
    assert nsclient.http(shopper_ns, echo1["endpoint"]["ip"], 8080)[0] == 200
    fresh = start_control_plane(cp.home)
    cp.__dict__.update(fresh.__dict__)  # later tests of this module use the new process
    time.sleep(3)  # a kick at start and at least one idle pass
    assert cp.get("/v1/appliances/echo1")["status"] == "ready"
    assert len(_reconcile_events(cp)) == before, "a restart must plan nothing"
    assert nsclient.facade_netns() == netns
    assert {b["name"]: _workload_pid(b["name"]) for b in echo1["backends"]} == pids
    # the same table, handles included (nothing was rewritten); only the meters kept counting
    assert _without_counters(nsclient.nft_ruleset(echo1["frontend"]["netns"])) == ruleset


def test_killed_workload_leaves_rotation_and_is_restarted(cp: ControlPlane,
                                                         echo1: dict[str, Any]) -> None:
    """Killed, the backend leaves the rotation (its checks fail) and comes back once its
    workload is started again; or its node's look (the resync) finds the workload gone and
    starts it again before its checks failed twice, and it never has to leave. A race either
    way round: both end with a new workload serving, in the rotation, within seconds."""
    fe = echo1["frontend"]["netns"]
    victim = echo1["backends"][1]
    ip = victim["interfaces"][0]["ip"]
    assert ip in _rotation(fe)
    old = _workload_pid(victim["name"])
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    seen_out = False
    while time.monotonic() - killed < 10:
        inside = ip in _rotation(fe)
        seen_out = seen_out or not inside
        now = nsclient.processes_mentioning(f"--name {victim['name']} ")
        if inside and (seen_out or now not in ([], [old])):
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the backend did not leave and come back, nor was it "
                             "restarted, within 10 s")
    assert _workload_pid(victim["name"]) != old
    events = json.dumps(cp.events())
    assert "reconcile.start_process" in events
    status, _, _ = nsclient.http(victim["netns"], ip, 8080, path="/health")
    assert status == 200, "the restarted backend does not answer"


def test_deleted_namespace_is_rebuilt(cp: ControlPlane, echo1: dict[str, Any]) -> None:
    victim = echo1["backends"][2]
    ip = victim["interfaces"][0]["ip"]
    nsclient.run("ip", "netns", "delete", victim["netns"])

    def rebuilt() -> bool:
        if victim["netns"] not in nsclient.facade_netns():
            return False
        kernel = nsclient.addresses(victim["netns"])
        return all(any(a.startswith(i["ip"] + "/") for a in kernel.get(i["name"], []))
                   for i in victim["interfaces"]) and ip in _rotation(echo1["frontend"]["netns"])

    cp.wait_for(rebuilt, timeout=15, what="the backend node to be rebuilt and in rotation")
    cp.wait_for(lambda: cp.get("/v1/appliances/echo1")["status"] == "ready", timeout=10,
                what="the appliance to be ready again")
    events = json.dumps(cp.events())
    assert f'"object": "{victim["netns"]}"' in events


def test_hung_workload_leaves_rotation_and_returns(cp: ControlPlane,
                                                   echo1: dict[str, Any]) -> None:
    fe = echo1["frontend"]["netns"]
    victim = echo1["backends"][0]
    ip = victim["interfaces"][0]["ip"]
    cp.wait_for(lambda: ip in _rotation(fe), timeout=10, what="the backend in rotation")
    pid = _workload_pid(victim["name"])
    os.kill(pid, signal.SIGSTOP)
    try:
        cp.wait_for(lambda: ip not in _rotation(fe), timeout=10,
                    what="a hung backend to leave the rotation")
        # new connections never go to it: every request is answered, by the others
        shopper = next(n for n in nsclient.facade_netns() if n.endswith("-shopper"))
        for _ in range(6):
            status, _, body = nsclient.http(shopper, echo1["endpoint"]["ip"], 8080, timeout=2)
            assert status == 200 and body.decode().strip() != victim["name"]
    finally:
        os.kill(pid, signal.SIGCONT)
    cp.wait_for(lambda: ip in _rotation(fe), timeout=10, what="the backend to come back")
    assert _workload_pid(victim["name"]) == pid  # the same process: it was only slow


@pytest.mark.parametrize("breakage", ["bridge", "veth", "nft-table"])
def test_drift_in_the_fabric_is_repaired(cp: ControlPlane, echo1: dict[str, Any],
                                         breakage: str) -> None:
    """Delete a kernel object behind the control plane's back: a subnet's bridge, an instance's
    veth, or the front-end's nftables table. The next passes repair it and say so."""
    fe = echo1["frontend"]["netns"]
    shopper = cp.get("/v1/instances/shopper")
    ep = echo1["endpoint"]["ip"]
    bridge = cp.get("/v1/subnets/shop-vpc/web")["bridge"]
    ports = json.loads(nsclient.run("ip", "-n", "fcd-fabric", "-j", "link", "show", "master",
                                    bridge))
    assert nsclient.can_connect(shopper["netns"], ep, 8080, timeout=2)
    if breakage == "bridge":
        nsclient.run("ip", "-n", "fcd-fabric", "link", "del", bridge)
    elif breakage == "veth":
        nsclient.run("ip", "-n", shopper["netns"], "link", "del", "eth0")
    else:
        nsclient.run("ip", "netns", "exec", fe, "nft", "delete", "table", "ip", "fcd_fe")

    def repaired() -> bool:
        now = json.loads(nsclient.run("ip", "-n", "fcd-fabric", "-j", "link", "show", "master",
                                      bridge, check=False) or "[]")
        return ({p["ifname"] for p in now} == {p["ifname"] for p in ports}
                and nsclient.can_connect(shopper["netns"], ep, 8080, timeout=1))

    cp.wait_for(repaired, timeout=20, what=f"the {breakage} to be repaired")
    assert len(_rotation(fe)) == 3
    expected = {"bridge": ("reconcile.ensure_subnet", bridge, "missing"),
                "veth": ("reconcile.ensure_node", shopper["netns"], "interfaces differ"),
                "nft-table": ("reconcile.ensure_node", fe, "front-end rules missing")}[breakage]
    # the worker records its events once the pass is done, a moment after the kernel is fixed
    cp.wait_for(lambda: any((e["kind"], e["object"], e["message"]) == expected
                            for e in cp.events()),
                timeout=10, what=f"an event saying {expected}")
