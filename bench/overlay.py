"""Benchmark: TCP throughput across simulated hosts (VXLAN, BGP EVPN in FRR) as a ratio of the
same-host path.

Two simulated hosts and a route reflector on the substrate (dataplane/linux/simhosts.py), one
segment (VNI 100) stretched over both; the node `fe` on host 1 (where a front-end would be)
runs iperf3 against
 - same host: `be-local`, a node on host 1's segment (veth, bridge, veth);
 - across hosts: `be-remote`, a node on host 2 (veth, bridge, VXLAN over the underlay's veth
   and bridge, VXLAN, bridge, veth).
The two are measured alternately, ROUNDS times each, in one run; the ratio of medians is the
figure (target >= 0.7). Prints a Markdown table; docs/benchmarks.md records its output. As
root; in a sandbox of its own to leave the machine's namespaces alone:

    sudo /work/shared/tools/sandbox .venv/bin/python bench/overlay.py [--rounds 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.kernel_lock import kernel_lock

from facade.dataplane.linux.simhosts import SimulatedHosts

VNI = 100
NODES = {"fe": ("h1", "02:00:00:64:00:01", "10.0.0.1"),
         "be-local": ("h1", "02:00:00:64:00:03", "10.0.0.3"),
         "be-remote": ("h2", "02:00:00:64:00:02", "10.0.0.2")}


def iperf(target: str, seconds: int) -> float:
    # -A 0,1: client on CPU 0, server on CPU 1, on both paths alike (bench/throughput.py)
    res = subprocess.run(["ip", "netns", "exec", "fcd-n-fe", "iperf3", "-c", target, "-p",
                          "5201", "-t", str(seconds), "-A", "0,1", "-J"],
                         capture_output=True, text=True, timeout=seconds + 30, check=True)
    return float(json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9


def measure(rounds: int, seconds: int) -> tuple[list[float], list[float]]:
    local: list[float] = []
    remote: list[float] = []
    for _ in range(rounds):
        local.append(iperf(NODES["be-local"][2], seconds))
        remote.append(iperf(NODES["be-remote"][2], seconds))
    return local, remote


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    args = ap.parse_args()
    with kernel_lock(), tempfile.TemporaryDirectory(prefix="facade-bench-") as tmp:
        sim = SimulatedHosts(Path(tmp))
        try:
            for host in ("h1", "h2"):
                sim.add_host(host)
            sim.wait_established()
            for name, (host, mac, ip) in NODES.items():
                sim.add_node(host, VNI, name, mac, f"{ip}/24")
            for name in ("be-local", "be-remote"):
                subprocess.run(["ip", "netns", "exec", f"fcd-n-{name}", "iperf3", "-s", "-D",
                                "-B", NODES[name][2], "-p", "5201"], check=True)
            local, remote = measure(args.rounds, args.seconds)
        finally:
            sim.close()
    lo, re = statistics.median(local), statistics.median(remote)
    print(f"TCP throughput, one iperf3 stream (client on CPU 0, server on CPU 1), "
          f"{args.rounds} x {args.seconds} s each, alternating (Gbit/s)\n")
    print("| path | median | all runs |\n|---|---|---|")
    print(f"| same host (fe -> be-local, host 1's segment bridge) | {lo:.2f} | "
          f"{', '.join(f'{x:.2f}' for x in local)} |")
    print(f"| across hosts (fe on host 1 -> be-remote on host 2, VXLAN) | {re:.2f} | "
          f"{', '.join(f'{x:.2f}' for x in remote)} |")
    print(f"\nratio across hosts / same host: **{re / lo:.2f}** (target >= 0.7)")


if __name__ == "__main__":
    main()
