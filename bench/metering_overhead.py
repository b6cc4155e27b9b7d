"""Benchmark: what metering costs on throughput through an appliance's front-end.

One real control plane with an iperf3 appliance (as bench/throughput.py). The control plane is
paused (SIGSTOP: the kernel keeps forwarding, nothing repairs the table meanwhile) and the
front-end's forward chain is switched, round by round, between the rules Facade installs (three
meter rules first) and the same rules without them, measuring iperf3 from the customer's
instance through the endpoint each time. The metered rounds must also have counted (the
meters' byte counters grow). Overhead = 1 - median(metered) / median(unmetered); target < 5 %.
The control plane is resumed at the end and restores its own rules. Prints a Markdown table;
docs/benchmarks.md records its output.

    sudo .venv/bin/python bench/metering_overhead.py [--rounds 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import signal
import statistics
import subprocess

from common import control_plane_with
from throughput import LAYOUT

from facade.dataplane.linux import nft_rules
from facade.domain.specs import FrontendSpec


def nft(netns: str, commands: list[dict[str, object]]) -> None:
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-j", "-f", "-"], check=True,
                   input=json.dumps({"nftables": commands}), text=True, timeout=10)


def forward_chain(fe: FrontendSpec, source: str) -> list[dict[str, object]]:
    ref = {"family": nft_rules.FAMILY, "table": nft_rules.TABLE, "name": "forward"}
    cmds: list[dict[str, object]] = [{"flush": {"chain": ref}}]
    for expr in nft_rules.chain_rules(fe, source)["forward"]:
        cmds.append({"add": {"rule": {"family": nft_rules.FAMILY, "table": nft_rules.TABLE,
                                      "chain": "forward", "expr": expr}}})
    return cmds


def metered_bytes(netns: str) -> int:
    out = subprocess.run(["ip", "netns", "exec", netns, "nft", "-j", "list", "set", "ip",
                          "fcd_fe", "m_in"], check=True, capture_output=True, text=True)
    total = 0
    for obj in json.loads(out.stdout)["nftables"]:
        for e in obj.get("set", {}).get("elem", []):
            total += e["elem"]["counter"]["bytes"]
    return total


def iperf(client_ns: str, target: str, seconds: int) -> float:
    res = subprocess.run(["ip", "netns", "exec", client_ns, "iperf3", "-c", target, "-p",
                          "5201", "-t", str(seconds), "-A", "0,1", "-J"], check=True,
                         capture_output=True, text=True, timeout=seconds + 30)
    return float(json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    args = ap.parse_args()
    with control_plane_with(LAYOUT) as cp:
        app = cp.get("/v1/appliances/perf")
        client = cp.get("/v1/instances/client")
        fe_ns = app["frontend"]["netns"]
        legs = app["frontend"]["interfaces"]
        cidr = cp.get(f"/v1/subnets/{legs[0]['subnet']}")["cidr"]
        gateway = str(ipaddress.ip_network(cidr)[1])
        spec = FrontendSpec(customer_if="eth0", backend_if="eth1", endpoint=legs[0]["ip"],
                            port=5201, unmetered_source=gateway)
        source = legs[1]["ip"]
        metered_rules = forward_chain(spec, source)
        plain_rules = forward_chain(dataclasses.replace(spec, metering=False), source)
        os.kill(cp.proc.pid, signal.SIGSTOP)
        metered, plain, counted = [], [], []
        try:
            for _ in range(args.rounds):
                nft(fe_ns, metered_rules)
                before = metered_bytes(fe_ns)
                metered.append(iperf(client["netns"], spec.endpoint, args.seconds))
                counted.append(metered_bytes(fe_ns) - before)
                nft(fe_ns, plain_rules)
                before = metered_bytes(fe_ns)
                plain.append(iperf(client["netns"], spec.endpoint, args.seconds))
                assert metered_bytes(fe_ns) == before, "meters counted while removed"
        finally:
            nft(fe_ns, metered_rules)
            os.kill(cp.proc.pid, signal.SIGCONT)
    assert all(c > 0 for c in counted), "the metered rounds counted nothing"
    m, p = statistics.median(metered), statistics.median(plain)
    print(f"metering overhead, iperf3 through the front-end, {args.rounds} rounds of "
          f"{args.seconds} s each, alternating (Gbit/s)\n")
    print("| path | median | min | max |\n|---|---|---|---|")
    for name, xs in (("metered (Facade's rules)", metered), ("meters removed", plain)):
        print(f"| {name} | {statistics.median(xs):.2f} | {min(xs):.2f} | {max(xs):.2f} |")
    print(f"\nmetered / unmetered = {m / p:.3f}; overhead {max(0.0, 1 - m / p) * 100:.1f} % "
          f"(target < 5 %); bytes counted per metered round: "
          f"{statistics.median(counted) / 1e9:.2f} GB median")


if __name__ == "__main__":
    main()
