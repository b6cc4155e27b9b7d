"""Crash safety: the control plane is killed with SIGKILL at random moments while it
provisions, scales and deletes appliances, then started again, many times in one test. After
every restart it must converge: every appliance ready (or gone, if it was being deleted), no
address on two interfaces of one segment, no namespace, veth or workload process that the
desired state does not explain, and no address held by nothing.

CI kills it 10 times, always at the same moments (a fixed seed). Under `make soak`
(tests/integration/soak.py) it is killed 100 times from a fresh seed, with at most
SOAK_ALIVE appliances at once, so that every round costs about the same however long it runs."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane, start_control_plane
from tests.integration.soak import SOAK, Budget

pytestmark = pytest.mark.root

KILLS = SOAK.kills if SOAK.on else 10
SEED = SOAK.seed if SOAK.on else 20261128
SOAK_ALIVE = 6  # past this many appliances the soak only scales and deletes
SCENARIO = """
accounts: [{name: shop}, {name: echoco}]
networks:
  - {name: shop-vpc, account: shop, cidr: 10.0.0.0/16, subnets: [{name: web, cidr: 10.0.1.0/24}]}
  - {name: echo-vpc, account: echoco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - {name: echo, account: echoco, workload: http-echo, port: 8080,
     backend_subnet: echo-vpc/backend, management_subnet: echo-vpc/mgmt}
"""


def _kill(cp: ControlPlane) -> None:
    os.killpg(cp.proc.pid, signal.SIGKILL)
    cp.proc.wait(timeout=10)
    if cp.log is not None:
        cp.log.close()


def _restart(cp: ControlPlane) -> None:
    fresh = start_control_plane(cp.home)
    cp.__dict__.update(fresh.__dict__)


def _converged(cp: ControlPlane, alive: dict[str, int]) -> bool:
    """Exactly the appliances alive, each ready at its size, and the kernel holding exactly the
    store's namespaces (what a kill left half made or half deleted goes a moment later)."""
    apps = cp.items("/v1/appliances")
    return ({a["name"] for a in apps} == set(alive)
            and all(a["status"] == "ready" and len(a["backends"]) == a["desired_backends"]
                    for a in apps)
            and _namespaces(cp, _nodes(cp, apps)) == (set(), set()))


def _nodes(cp: ControlPlane, apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every node the store lists: the appliances' (`apps`, as listed) and the instances."""
    return [n for a in apps for n in [a["frontend"], *a["backends"]]] + cp.items("/v1/instances")


def _namespaces(cp: ControlPlane, nodes: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(the kernel's Facade namespaces that the store does not explain, those it lacks)."""
    explained = {n["netns"] for n in nodes} | {net["router"] for net in cp.items("/v1/networks")}
    explained.add("fcd-fabric")
    kernel = nsclient.facade_netns()
    return kernel - explained, explained - kernel


def _check_invariants(cp: ControlPlane) -> None:
    apps = cp.items("/v1/appliances")
    nodes = _nodes(cp, apps)
    unexplained, missing = _namespaces(cp, nodes)
    assert not unexplained and not missing, f"unexplained: {unexplained}, missing: {missing}"
    # every address the store hands out is on exactly one interface of its segment, and the
    # kernel holds exactly the store's addresses
    by_segment: dict[str, list[str]] = {}
    for n in nodes:
        kernel_addrs = nsclient.addresses(n["netns"])
        assert set(kernel_addrs) == {i["name"] for i in n["interfaces"]}, (n, kernel_addrs)
        for i in n["interfaces"]:
            assert any(a.startswith(i["ip"] + "/") for a in kernel_addrs[i["name"]]), (n, i)
            by_segment.setdefault(i["subnet"], []).append(i["ip"])
    for segment, ips in by_segment.items():
        assert len(ips) == len(set(ips)), f"an address twice in {segment}: {sorted(ips)}"
        used = cp.get(f"/v1/subnets/{segment}")["used"]
        assert used == len(ips), f"{segment}: {used} allocated, {len(ips)} on interfaces"
    # veths on the fabric: one per interface, plus one per router leg
    fabric = json.loads(nsclient.run("ip", "-n", "fcd-fabric", "-j", "link", "show"))
    ports = [lk for lk in fabric if lk.get("linkinfo", {}).get("info_kind") == "veth"
             or lk["ifname"].startswith(("fcdv", "fcdg"))]
    legs = sum(len(net["subnets"]) for net in cp.items("/v1/networks"))
    assert len(ports) == sum(len(n["interfaces"]) for n in nodes) + legs
    # one workload process per backend, none for anything else
    for a in apps:
        for b in a["backends"]:
            assert len(nsclient.processes_mentioning(f"--name {b['name']} ")) == 1, b["name"]
    names = {b["name"] for a in apps for b in a["backends"]}
    for pid in nsclient.processes_mentioning("facade.workloads.http_echo"):
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
        name = argv[argv.index(b"--name") + 1].decode()
        assert name in names, f"orphan workload {name} (pid {pid})"


def test_sigkill_at_random_points_converges(cp: ControlPlane,
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("crash") / "layout.yaml"
    path.write_text(SCENARIO)
    cp.cli("apply", "-f", str(path))
    rng = random.Random(SEED)
    budget = Budget(SOAK.crash_s).start()
    alive: dict[str, int] = {}
    survived = 0
    waits: list[float] = []  # restart to convergence, per kill
    for k in range(KILLS):
        if SOAK.on and budget.spent():
            break
        ops = ["create", "create", "scale", "delete"] if alive else ["create"]
        if SOAK.on and len(alive) >= SOAK_ALIVE:
            ops = ["scale", "delete"]
        op = rng.choice(ops)
        if op == "create":
            name = f"app{k}"
            n = rng.randint(1, 4)
            r = cp.api("POST", "/v1/appliances", json={
                "name": name, "account": "shop", "service": "echo", "subnet": "shop-vpc/web",
                "backends": n})
            assert r.status_code == 202, r.text
            alive[name] = n
        elif op == "scale":
            name = rng.choice(sorted(alive))
            alive[name] = rng.randint(1, 5)
            r = cp.api("PATCH", f"/v1/appliances/{name}", json={"backends": alive[name]})
            assert r.status_code == 202, r.text
        else:
            name = rng.choice(sorted(alive))
            del alive[name]
            threading_delete(cp, name)
        time.sleep(rng.uniform(0.0, 0.4))
        _kill(cp)
        survived += 1
        killed = time.monotonic()
        _restart(cp)
        for app in cp.items("/v1/appliances"):  # a delete the kill cut short: ask again
            if app["name"] not in alive and app["status"] != "deleting":
                assert cp.api("DELETE", f"/v1/appliances/{app['name']}").status_code == 202
        cp.wait_for(lambda: _converged(cp, alive), timeout=30,
                    what=f"convergence after kill {k + 1} ({op}; seed {SEED})")
        waits.append(time.monotonic() - killed)
        _check_invariants(cp)
    print(f"\ncontrol plane SIGKILLed {survived} times at random points (seed {SEED});"
          f" converged every time, restart to converged {sum(waits) / max(len(waits), 1):.1f} s"
          f" on average, {max(waits, default=0):.1f} s at most;"
          f" {budget.elapsed() / 60:.1f} minutes")
    assert survived == KILLS, (
        f"{survived} kills of {KILLS} in the soak's {SOAK.crash_s / 60:.0f} minutes")


def threading_delete(cp: ControlPlane, name: str) -> None:
    """DELETE waits for the worker; send it without waiting so the kill can land mid-way."""
    def send() -> None:
        try:
            cp.api("DELETE", f"/v1/appliances/{name}")
        except Exception:  # the kill may cut the request: that is the point
            pass

    threading.Thread(target=send, daemon=True).start()
    time.sleep(0.02)
