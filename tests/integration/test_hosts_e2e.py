"""Hosts beside a real control plane (docs/multi-host.md, "What slice 2a built"): the plane
has its local host holding its nodes (API and `facade host ...`), and its resync leaves the
overlay's namespaces alone: simulated hosts, the route reflector, the substrate and a node
of the substrate, made in the same /run/netns (dataplane/linux/simhosts.py) while the plane
runs, outlive several resync passes, their FRR daemons too, while a stray node namespace
beside them is removed by those same passes. Checked with `ip netns` and /proc."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from facade.dataplane.linux import frr
from facade.dataplane.linux.simhosts import SimulatedHosts
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root
OVERLAY = ("fcd-h-h1", "fcd-h-h2", "fcd-rr", "fcd-substrate", "fcd-n-a1")
STRAY = "fcd-i999-stray"
RESYNC = 2.0  # FACADE_RESYNC of the test control planes (controlplane.py)

WORLD = """\
accounts: [{name: acme}]
networks:
  - {name: vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
instances:
  - {name: web, account: acme, interfaces: [{subnet: vpc/app}]}
"""


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True,
                         check=True).stdout
    return {n["name"] for n in json.loads(out or "[]")}


@pytest.fixture(scope="module")
def sim(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedHosts]:
    hosts = SimulatedHosts(Path(tmp_path_factory.mktemp("overlay")))
    try:
        for name in ("h1", "h2"):
            hosts.add_host(name)
        hosts.add_node("h1", 100, "a1", "02:00:00:64:00:01", "10.0.0.1/24")
        yield hosts
    finally:
        hosts.close()


def test_the_local_host_holds_the_planes_nodes(cp: ControlPlane, tmp_path: Path) -> None:
    world = tmp_path / "world.yaml"
    world.write_text(WORLD)
    cp.cli("apply", "-f", str(world))
    assert cp.get("/v1/instances/web")["host"] == "local"
    local = cp.get("/v1/hosts/local")
    assert (local["state"], local["nodes"], local["local"]) == ("ready", 1, True)
    listed = cp.cli("host", "list", "-o", "name").stdout.split()
    assert listed == ["local"]
    refused = cp.cli("host", "remove", "local", check=False)
    assert refused.returncode == 4 and "cannot be removed" in refused.stderr


def test_the_resync_keeps_the_overlay_and_removes_a_stray(cp: ControlPlane,
                                                          sim: SimulatedHosts) -> None:
    daemons = {h: [frr.pid_of(sim.hosts[h].frr, d) for d in frr.DAEMONS] for h in ("h1", "h2")}
    assert all(None not in pids for pids in daemons.values())
    subprocess.run(["ip", "netns", "add", STRAY], check=True)
    assert set(OVERLAY) | {STRAY} <= _namespaces()
    cp.wait_for(lambda: STRAY not in _namespaces(), timeout=10 * RESYNC,
                what=f"the resync to remove {STRAY}")
    time.sleep(2 * RESYNC)  # two more passes over everything the kernel holds
    assert set(OVERLAY) <= _namespaces()
    for host, pids in daemons.items():
        assert [frr.pid_of(sim.hosts[host].frr, d) for d in frr.DAEMONS] == pids, host
    removed = [e for e in cp.events() if e["object"] in OVERLAY]
    assert removed == []
