"""Simulated hosts on their own agents beside a real control plane (docs/multi-host.md,
"Simulated hosts on their agents"; `facade up --simulated-agents`): `facade host add h1
--simulated` starts h1's agent, the control plane's child, which registers over the API's unix
socket and makes h1's namespace and FRR (its FRR folder is the agent's, the reflector's the
plane's); an instance on h1 is made by the agent; an agent that dies is run again; an agent
stopped on purpose (the `stopped` marker, then killed) makes its host lost and its instance
failed; run again, it fences its host and the host watch rejoins it (ready, the instance
active again); `facade host remove` stops the agent and leaves nothing of the overlay.
Checked with /proc, `ip -j` and the API."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root
SERVER_ENV = {"FACADE_SIMULATED_AGENTS": "1"}
WORLD = """\
accounts: [{name: acme}]
networks:
  - {name: vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
instances:
  - {name: web, account: acme, host: h1, interfaces: [{subnet: vpc/app}]}
"""


def _agent(cp: ControlPlane) -> Path:
    return cp.home / "host-agents" / "h1"


def _pid(cp: ControlPlane) -> int:
    return int((_agent(cp) / "agent.pid").read_text())


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"facade.workloads.host_agent" in cmdline and \
        b"Z" not in Path(f"/proc/{pid}/stat").read_bytes().split(b")")[-1][:3]


def _links(netns: str) -> set[str]:
    return {lk["ifname"] for lk in json.loads(
        nsclient.run("ip", "-n", netns, "-j", "link") or "[]")}


@pytest.fixture(scope="module")
def h1(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    started = time.monotonic()
    cp.cli("host", "add", "h1", "--simulated")
    print(f"host add h1 (its agent started and registered): {time.monotonic() - started:.2f} s")
    world = tmp_path_factory.mktemp("agents") / "world.yaml"
    world.write_text(WORLD)
    cp.cli("apply", "-f", str(world))
    yield "h1"


def test_the_host_is_made_by_its_agent(cp: ControlPlane, h1: str) -> None:
    shown = cp.get("/v1/hosts/h1")
    assert shown["state"] == "ready" and "its own host agent" in shown["detail"], shown
    assert _alive(_pid(cp))
    assert (_agent(cp) / "overlay" / "frr" / "h1").is_dir()  # h1's FRR: the agent's
    assert not (cp.home / "overlay" / "frr" / "h1").exists()
    assert (cp.home / "overlay" / "frr" / "_reflector").is_dir()  # the shared part: the plane's
    assert not (_agent(cp) / "overlay" / "frr" / "_reflector").exists()
    assert "registered host h1" in (_agent(cp) / "agent.log").read_text()
    web = cp.wait_for(lambda: (w := cp.get("/v1/instances/web?account=acme"))["status"]
                      == "active" and w, timeout=30, what="web active")
    assert web["host"] == "h1"
    ports = {n for n in _links("fcd-h-h1") if n.startswith("fcdv")}
    assert len(ports) == 1, ports  # its port on h1, made by h1's agent
    assert not {n for n in _links("fcd-fabric") if n.startswith("fcdv")}


def test_an_agent_that_dies_is_run_again(cp: ControlPlane, h1: str) -> None:
    before = _pid(cp)
    os.kill(before, signal.SIGKILL)
    cp.wait_for(lambda: _pid(cp) != before and _alive(_pid(cp)), timeout=10,
                what="h1's agent run again")
    cp.wait_for(lambda: cp.get("/v1/hosts/h1")["state"] == "ready", timeout=15,
                what="h1 ready")


def test_an_agent_stopped_on_purpose_loses_its_host_and_comes_back(
        cp: ControlPlane, h1: str) -> None:
    marker = _agent(cp) / "stopped"
    marker.write_text("a test's host loss\n")
    pid = _pid(cp)
    os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    # 5.6 s when the supervisor sees the kill at once (docs/multi-host.md); if it misses it,
    # the agent's open long poll (20 s) keeps the host present, then LOST_AFTER (5 s): under
    # a loaded machine that took more than 20 s (two runs of three beside other suites)
    cp.wait_for(lambda: cp.get("/v1/hosts/h1")["state"] == "lost", timeout=45,
                what="h1 lost")
    print(f"h1 lost {time.monotonic() - started:.1f} s after its agent was killed")
    assert _pid(cp) == pid and not _alive(pid)  # not run again meanwhile
    cp.wait_for(lambda: cp.get("/v1/instances/web?account=acme")["status"] == "failed",
                timeout=10, what="web failed")
    marker.unlink()
    cp.wait_for(lambda: cp.get("/v1/hosts/h1")["state"] == "ready", timeout=60,
                what="h1 ready again")
    log = (_agent(cp) / "agent.log").read_text()
    assert "is lost: fenced" in log, log[-2000:]
    cp.wait_for(lambda: cp.get("/v1/instances/web?account=acme")["status"] == "active",
                timeout=60, what="web active again")
    events = [e["kind"] for e in cp.events() if e["object"] == "h1"]
    assert "host.lost" in events and events[-1] == "host.ready", events


def test_removing_the_host_stops_its_agent(cp: ControlPlane, h1: str) -> None:
    request = urllib.request.Request(cp.url + "/v1/instances/web?account=acme", method="DELETE",
                                     headers={"Authorization": f"Bearer {cp.token}"})
    urllib.request.urlopen(request, timeout=30).close()
    cp.wait_for(lambda: not cp.items("/v1/instances?account=acme"), timeout=60,
                what="web deleted")
    pid = _pid(cp)
    cp.cli("host", "remove", "h1")
    cp.wait_for(lambda: not _alive(pid), timeout=10, what="h1's agent stopped")
    assert not {"fcd-h-h1", "fcd-rr", "fcd-substrate"} & nsclient.netns_list()
