"""Benchmark: what a metering round's questions to a management agent cost on the kernel, one
request per node against one request to the agent's hub (docs/metering.md, "Cost").

Root, in a sandbox of its own (`/work/shared/tools/sandbox` or any fresh network namespace):
it makes namespaces `fcd-r7` (the router's, where the agent runs and the control plane asks
from) and N nodes on a bridge (half front-ends without a table, half backends without a
workload: what the agent reads is not the point), writes the agent's config, starts the real
agent in `fcd-r7`, and then runs `metering.read` (the control plane's code: signing, the
linux driver's request from the router namespace, parsing) ROUNDS times each way: through the
hub, and node by node (the data plane refusing 127.0.0.1, as an agent of an older release
does). Prints the control plane's thread CPU per round and the agent's CPU per round.

    sudo /work/shared/tools/sandbox env PYTHONPATH=src .venv/bin/python \\
        bench/metering_requests.py [--nodes 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from facade.dataplane.linux import probes
from facade.domain.specs import ProbeResult
from facade.service import management, metering
from facade.service.context import Context

NET = 7
ROUTER = f"fcd-r{NET}"
FABRIC = "fcd-bench-fabric"


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def make_nodes(n: int) -> list[management.AgentNode]:
    """The router's namespace and n nodes, each with a management address on one bridge."""
    sh("ip", "netns", "add", FABRIC)
    sh("ip", "-n", FABRIC, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", FABRIC, "link", "set", "br0", "up")
    out = []
    for i in range(n + 1):
        ns = ROUTER if i == 0 else f"fcd-i{i}-node{i}"
        ip = f"10.78.{(i + 1) // 250}.{(i + 1) % 250 + 1}"
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", FABRIC, "link", "add", f"v{i}", "type", "veth", "peer", "name", "mgmt0",
           "netns", ns)
        sh("ip", "-n", FABRIC, "link", "set", f"v{i}", "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/16", "dev", "mgmt0")
        sh("ip", "-n", ns, "link", "set", "mgmt0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        if i:
            out.append(management.AgentNode(f"node{i}", ns, ip,
                                            "frontend" if i % 2 else "backend", None))
    return out


class Driver:
    """The linux driver's request, from inside a namespace; `hub` False refuses 127.0.0.1."""

    hub = True

    def http_request(self, netns: str, ip: str, port: int, path: str = "/",
                     **kw: Any) -> ProbeResult:
        if ip == management.HUB_HOST and not self.hub:
            return ProbeResult(ok=False, detail="connection refused")
        return probes.http_request(netns, ip, port, path, **kw)


def agent_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rounds(ctx: Context, nodes: list[metering.MeteredNode], pid: int,
           count: int) -> tuple[float, float, int]:
    """Median control-plane CPU per round (ms), the agent's CPU per round (ms), readings."""
    present = {n.instance_id for n in nodes}
    metering.read(ctx, nodes, present)  # warm: the first connections, the agent's imports
    ours, theirs, readings = [], [], 0
    for _ in range(count):
        a0, t0 = agent_cpu(pid), time.thread_time()
        snap = metering.read(ctx, nodes, present)
        ours.append((time.thread_time() - t0) * 1000)
        theirs.append((agent_cpu(pid) - a0) * 1000)
        readings = len(snap.counters)
    return statistics.median(ours), statistics.mean(theirs), readings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (run it in a sandbox: see the docstring)")
    with tempfile.TemporaryDirectory(prefix="facade-bench-mrq-") as tmp:
        driver = Driver()
        ctx = Context.open(Path(tmp) / "home", driver)  # type: ignore[arg-type]
        agent = management.Agent(NET, make_nodes(args.nodes))
        management.write_config(ctx.home, agent)
        spec = management.process(ctx.home, agent)
        proc = subprocess.Popen(["ip", "netns", "exec", ROUTER, *spec.argv],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert proc.stdout is not None
            while f"serving {args.nodes} nodes" not in proc.stdout.readline():
                pass
            nodes = [metering.MeteredNode(
                instance_id=i + 1, name=n.name, netns=n.netns, role=n.role, ip=f"10.1.0.{i}",
                appliance_id=i // 2, appliance="a", customer="c", provider="p", owner="p",
                service="s", agent=agent, mgmt_ip=n.mgmt_ip) for i, n in enumerate(agent.nodes)]
            print(f"{args.nodes} nodes, one agent; CPU per round (control plane: median of "
                  f"{args.rounds}, thread time of metering.read; agent: mean)")
            print("| way | requests | control plane, ms | agent, ms |\n|---|---|---|---|")
            for way, hub in (("node by node", False), ("the hub", True)):
                driver.hub = hub
                ours, theirs, _ = rounds(ctx, nodes, proc.pid, args.rounds)
                asked = 1 if hub else args.nodes + 1
                print(f"| {way} | {asked} | {ours:.1f} | {theirs:.0f} |")
        finally:
            proc.terminate()
            proc.wait(5)


if __name__ == "__main__":
    main()
