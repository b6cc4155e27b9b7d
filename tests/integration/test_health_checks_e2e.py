"""Health checks a service tunes (docs/health.md), on real processes: an `iperf3 -s` backend,
which serves one client at a time, checked through its management agent (which reads the
node's socket table and never connects) serves every client run; an http check's expected codes
decide the rotation, and a change of the check reaches a running appliance."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root

SCENARIO = """
accounts: [{name: acme}, {name: perfco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16,
     subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: perf-vpc, account: perfco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - name: iperf
    account: perfco
    command: "iperf3 -s -B {ip} -p {port}"
    port: 5201
    backend_subnet: perf-vpc/backend
    management_subnet: perf-vpc/mgmt
    health_check: {type: agent, interval: 0.5, timeout: 0.3}
  - name: files
    account: perfco
    command: "python3 -m http.server {port} --bind {ip}"
    port: 8080
    backend_subnet: perf-vpc/backend
    management_subnet: perf-vpc/mgmt
    # nothing is at /missing: a 404 is this service's sign of life
    health_check: {type: http, path: /missing, codes: "404", interval: 0.5}
instances:
  - {name: client, account: acme, interfaces: [acme-vpc/app]}
appliances:
  - {name: perf, account: acme, service: iperf, subnet: acme-vpc/app, backends: 1}
  - {name: files, account: acme, service: files, subnet: acme-vpc/app, backends: 1}
"""
CLIENT_RUNS = 10


def _ready(cp: ControlPlane, name: str, timeout: float = 30) -> dict[str, Any]:
    got: dict[str, Any] = cp.wait_for(
        lambda: (lambda a: a if a["status"] == "ready" else None)(
            cp.get(f"/v1/appliances/{name}")), timeout=timeout, what=f"{name} ready")
    return got


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("health") / "health.yaml"
    path.write_text(SCENARIO)
    cp.cli("apply", "-f", str(path), timeout=60)
    yield {"perf": _ready(cp, "perf"), "files": _ready(cp, "files")}


def _iperf(cp: ControlPlane, endpoint: str) -> Any:
    return cp.cli("exec", "client", "--timeout", "20", "--", "iperf3", "-c", endpoint,
                  "-p", "5201", "-n", "256K", check=False)


def test_a_one_client_server_serves_every_run_and_its_agent_reports_it(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    endpoint = world["perf"]["endpoint"]["ip"]
    failures = [(r.returncode, r.stdout[-300:], r.stderr[-300:])
                for r in (_iperf(cp, endpoint) for _ in range(CLIENT_RUNS))
                if r.returncode != 0]
    assert not failures  # a probe counted as a client would refuse some runs
    backend = cp.get("/v1/appliances/perf")["backends"][0]
    ip = backend["interfaces"][0]["ip"]

    def reported() -> Any:
        mgmt = cp.get("/v1/appliances/perf")["backends"][0].get("management") or {}
        return (mgmt.get("workload") or {}).get("detail") == f"listening on {ip}:5201"

    cp.wait_for(reported, timeout=10, what="the agent's report")


def test_the_agent_check_sees_a_dead_server_and_it_comes_back(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    backend = cp.get("/v1/appliances/perf")["backends"][0]
    ip = backend["interfaces"][0]["ip"]
    (pid,) = nsclient.processes_mentioning(f"iperf3 -s -B {ip} ")
    os.kill(pid, signal.SIGKILL)
    # the backend leaves the rotation (degraded), its workload is started again, and it is back
    cp.wait_for(lambda: cp.get("/v1/appliances/perf")["status"] != "ready"
                or nsclient.processes_mentioning(f"iperf3 -s -B {ip} ") not in ([], [pid]),
                timeout=5, what="the dead server noticed")
    _ready(cp, "perf", timeout=15)
    assert nsclient.processes_mentioning(f"iperf3 -s -B {ip} ") not in ([], [pid])
    assert _iperf(cp, world["perf"]["endpoint"]["ip"]).returncode == 0


def test_expected_codes_decide_and_a_change_reaches_a_running_appliance(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    assert cp.get("/v1/appliances/files")["status"] == "ready"  # 404 is what it expects
    res = cp.cli("service", "health-check", "files", "--health-codes", "200")
    assert "expects 200" in res.stdout
    # through the endpoint the 404 is now wrong at once; the backend then leaves the rotation
    cp.wait_for(lambda: (lambda a: a["status"] == "degraded"
                         and "0/1 backends in rotation" in a["status_detail"])(
        cp.get("/v1/appliances/files")), timeout=10, what="files degraded, its backend out")
    cp.cli("service", "health-check", "files", "--health-codes", "404")
    _ready(cp, "files", timeout=10)
