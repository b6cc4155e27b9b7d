"""Benchmark: TCP throughput through an appliance whose front-end and backend are on two
simulated hosts, as a ratio of the same appliance on one host, in one run (issue 13's target:
>= 0.7).

One real control plane with bench/throughput.py's layout (an iperf3 service checked through
its agents; the customer's instance `client`, its appliance `perf`), every node on the local
host. Then two simulated hosts are added (`facade host add h1|h2 --simulated`) and a second
appliance `cross` is made: the scheduler puts its backend on one simulated host and its
front-end on the other (checked); an instance `near` is placed on the front-end's host. The
figure: iperf3 from `near` through `cross` (instance and front-end on one host, the backend's
traffic over the VXLAN overlay to the other, encapsulated and decapsulated by the kernel, the
backend's MAC learnt from EVPN) against iperf3 from `client` through `perf` (every hop on one
host's bridges), alternately, ROUNDS times each. Prints a Markdown table; docs/benchmarks.md
records its output.

    tests/integration/sandbox .venv/bin/python bench/hosts_throughput.py [--rounds 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import statistics

from common import ControlPlane, control_plane_with
from throughput import LAYOUT, iperf

HOSTS = ("h1", "h2")


def _ready(cp: ControlPlane, name: str) -> dict[str, object]:
    app: dict[str, object] = cp.wait_for(
        lambda: (a := cp.get(f"/v1/appliances/{name}"))["status"] == "ready" and a,
        timeout=60, what=f"{name} ready")
    return app


def _cross(cp: ControlPlane) -> tuple[str, str]:
    """The second appliance, its front-end and backend on two simulated hosts; an instance
    on the front-end's host. Returns that instance's name and the endpoint's address."""
    for host in HOSTS:
        cp.cli("host", "add", host, "--simulated")
    r = cp.api("POST", "/v1/appliances", json={
        "name": "cross", "account": "acme", "service": "iperf", "subnet": "acme-vpc/app",
        "backends": 1})
    assert r.status_code == 202, r.text
    app = _ready(cp, "cross")
    fe_host = app["frontend"]["host"]  # type: ignore[index]
    (backend,) = app["backends"]  # type: ignore[misc]
    assert {fe_host, backend["host"]} == set(HOSTS), (fe_host, backend["host"])
    r = cp.api("POST", "/v1/instances", json={
        "name": "near", "account": "acme", "host": fe_host,
        "interfaces": [{"subnet": "acme-vpc/app"}]})
    assert r.status_code in (201, 202), r.text
    cp.wait_for(lambda: cp.get("/v1/instances/near")["status"] == "active", timeout=30,
                what="near active")
    return "near", str(app["endpoint"]["ip"])  # type: ignore[index]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    args = ap.parse_args()
    with control_plane_with(LAYOUT) as cp:
        same = str(_ready(cp, "perf")["endpoint"]["ip"])  # type: ignore[index]
        near, cross = _cross(cp)
        one, two = [], []
        for _ in range(args.rounds):
            one.append(iperf(cp, same, args.seconds))
            two.append(iperf(cp, cross, args.seconds, instance=near))
    o, t = statistics.median(one), statistics.median(two)
    print(f"TCP throughput through an appliance, one iperf3 stream (client on CPU 0, server on "
          f"CPU 1), {args.rounds} x {args.seconds} s each, alternating (Gbit/s)\n")
    print("| path | median | all runs |\n|---|---|---|")
    print(f"| one host (client, front-end, backend on local) | {o:.2f} | "
          f"{', '.join(f'{x:.2f}' for x in one)} |")
    print(f"| two hosts (client and front-end on one, backend on the other, over VXLAN) | "
          f"{t:.2f} | {', '.join(f'{x:.2f}' for x in two)} |")
    print(f"\nratio two hosts / one host: **{t / o:.2f}** (target >= 0.7)")


if __name__ == "__main__":
    main()
