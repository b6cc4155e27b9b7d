"""Benchmark: time from `create appliance` to `ready` (3 backends), and time to delete.

Runs a real control plane (as root) in a temporary state folder, lays out the issue's
networks, then creates and deletes an http-echo appliance ROUNDS times through the REST API,
polling every 5 ms. `ready` means a real request through the endpoint succeeded. It also
times the same through the `facade` command once (CLI start-up and its polling included).
Prints a Markdown table; docs/benchmarks.md records its output.

    sudo .venv/bin/python bench/appliance_lifecycle.py [--rounds 10] [--backends 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import ControlPlane, control_plane_with

LAYOUT = """
accounts: [{name: acme}, {name: benchco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: bench-vpc, account: benchco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - {name: echo, account: benchco, workload: http-echo, port: 80,
     backend_subnet: bench-vpc/backend, management_subnet: bench-vpc/mgmt}
"""


def poll(cp: ControlPlane, name: str, until: str, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        r = cp.api("GET", f"/v1/appliances/{name}")
        if until == "gone" and r.status_code == 404:
            return time.perf_counter()
        if until == "ready" and r.status_code == 200 and r.json()["status"] == "ready":
            return time.perf_counter()
        time.sleep(0.005)
    raise TimeoutError(f"{name} not {until} after {timeout}s")


def one_round(cp: ControlPlane, name: str, backends: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    r = cp.api("POST", "/v1/appliances", json={"name": name, "account": "acme",
                                               "service": "echo", "subnet": "acme-vpc/app",
                                               "backends": backends})
    assert r.status_code == 202, r.text
    t_ready = poll(cp, name, "ready")
    t1 = time.perf_counter()
    r = cp.api("DELETE", f"/v1/appliances/{name}")
    assert r.status_code == 202, r.text
    t_gone = poll(cp, name, "gone")
    return t_ready - t0, t_gone - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--backends", type=int, default=3)
    args = ap.parse_args()
    with control_plane_with(LAYOUT) as cp:
        create, delete = [], []
        for i in range(args.rounds):
            c, d = one_round(cp, f"bench{i}", args.backends)
            create.append(c)
            delete.append(d)
        t0 = time.perf_counter()
        cp.cli("appliance", "create", "clitime", "--account", "acme", "--service", "echo",
               "--subnet", "acme-vpc/app", "--backends", str(args.backends))
        cli_create = time.perf_counter() - t0
        t0 = time.perf_counter()
        cp.cli("appliance", "delete", "clitime")
        cli_delete = time.perf_counter() - t0

    def row(label: str, xs: list[float]) -> str:
        return (f"| {label} | {statistics.median(xs) * 1000:.0f} | {min(xs) * 1000:.0f} | "
                f"{max(xs) * 1000:.0f} |")

    print(f"appliance lifecycle, {args.backends} backends, {args.rounds} rounds (ms)\n")
    print("| step | median | min | max |\n|---|---|---|---|")
    print(row("API create -> ready", create))
    print(row("API delete -> gone", delete))
    print(f"| `facade appliance create` (CLI, waits for ready) | {cli_create * 1000:.0f} | | |")
    print(f"| `facade appliance delete` (CLI, waits for gone) | {cli_delete * 1000:.0f} | | |")


if __name__ == "__main__":
    main()
