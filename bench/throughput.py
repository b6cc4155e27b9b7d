"""Benchmark: TCP throughput through an appliance's front-end, as a ratio of the direct path.

One real control plane; the customer's instance `client` runs iperf3 against
 - direct: an iperf3 server on another instance of the same subnet (veth, bridge, veth);
 - front-end: the appliance endpoint, DNAT'd by the front-end to one iperf3 backend
   (veth, bridge, veth, nftables DNAT + SNAT, veth, bridge, veth).
The two are measured alternately, ROUNDS times each, in one run; the ratio of medians is the
figure (target >= 0.9). Prints a Markdown table; docs/benchmarks.md records its output.

    sudo .venv/bin/python bench/throughput.py [--rounds 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics

from common import ControlPlane, control_plane_with

LAYOUT = """
accounts: [{name: acme}, {name: perfco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: perf-vpc, account: perfco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  # iperf3 serves one client at a time: checked through the agent, never connected to
  - {name: iperf, account: perfco, port: 5201, command: "iperf3 -s -B {ip} -p {port}",
     backend_subnet: perf-vpc/backend, management_subnet: perf-vpc/mgmt,
     health_check: {type: agent}}
instances:
  - {name: client, account: acme, interfaces: [acme-vpc/app]}
  - {name: server, account: acme, interfaces: [acme-vpc/app]}
appliances:
  - {name: perf, account: acme, service: iperf, subnet: acme-vpc/app, backends: 1}
"""


def iperf(cp: ControlPlane, target: str, seconds: int, instance: str = "client") -> float:
    """Gbit/s of one iperf3 stream from `instance` to `target`."""
    # -A 0,1: client on CPU 0, server on CPU 1, on both paths alike; without pinning, where the
    # scheduler happens to put the two makes the direct path swing by 30 % from run to run
    res = cp.cli("exec", instance, "--timeout", str(seconds + 20), "--", "iperf3", "-c", target,
                 "-p", "5201", "-t", str(seconds), "-A", "0,1", "-J")
    return float(json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    args = ap.parse_args()
    with control_plane_with(LAYOUT) as cp:
        server_ip = cp.get("/v1/instances/server")["interfaces"][0]["ip"]
        endpoint = cp.get("/v1/appliances/perf")["endpoint"]["ip"]
        # the direct path's server: iperf3 in the `server` instance, started detached
        cp.cli("exec", "server", "--", "iperf3", "-s", "-D", "-B", server_ip, "-p", "5201")
        direct, via = [], []
        for _ in range(args.rounds):
            direct.append(iperf(cp, server_ip, args.seconds))
            via.append(iperf(cp, endpoint, args.seconds))
    d, v = statistics.median(direct), statistics.median(via)
    print(f"TCP throughput, one iperf3 stream (client on CPU 0, server on CPU 1), "
          f"{args.rounds} x {args.seconds} s each, alternating (Gbit/s)\n")
    print("| path | median | all runs |\n|---|---|---|")
    print(f"| direct (client -> server, same subnet) | {d:.2f} | "
          f"{', '.join(f'{x:.2f}' for x in direct)} |")
    print(f"| through the front-end (client -> endpoint -> backend) | {v:.2f} | "
          f"{', '.join(f'{x:.2f}' for x in via)} |")
    print(f"\nratio front-end / direct: **{v / d:.2f}** (target >= 0.9)")


if __name__ == "__main__":
    main()
