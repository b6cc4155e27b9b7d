"""Time the linux driver on an appliance-sized layout (root only): 3 subnets, a front-end with
3 ports, 3 backends with 2 ports each; create, start a process in each backend, re-ensure
(no-op), observe, delete. Once as nodes without sandboxes, once with them (as the control plane
makes them: the backends own their network, the front-end does not), round after round, so the
two are compared in one run.
Run: sudo .venv/bin/python bench/driver_timing.py [ROUNDS]"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from facade.dataplane.linux import LinuxDataPlane
from facade.domain.specs import (
    FrontendSpec,
    NodeSpec,
    PortSpec,
    ProcessSpec,
    SandboxSpec,
    SubnetSpec,
)

SUBNETS = [SubnetSpec("fcdb8001", "10.8.1.0/24"), SubnetSpec("fcdb8002", "10.8.1.0/24"),
           SubnetSpec("fcdb8003", "10.8.200.0/24")]
FE = NodeSpec("fcd-i8001-fe", "frontend", (
    PortSpec("fcdv80011", "fcdb8001", "eth0", "10.8.1.5/24", "10.8.1.1"),
    PortSpec("fcdv80012", "fcdb8002", "eth1", "10.8.1.200/24"),
    PortSpec("fcdv80013", "fcdb8003", "eth2", "10.8.200.5/24", "10.8.200.1"),
), FrontendSpec("eth0", "eth1", "10.8.1.5", 80))
BACKENDS = [NodeSpec(f"fcd-i80{10 + i}-be{i}", "backend", (
    PortSpec(f"fcdv801{i}1", "fcdb8002", "eth0", f"10.8.1.{11 + i}/24"),
    PortSpec(f"fcdv801{i}2", "fcdb8003", "eth1", f"10.8.200.{11 + i}/24", "10.8.200.1"),
)) for i in range(3)]


def _boxed(node: NodeSpec) -> NodeSpec:
    box = SandboxSpec(uid=0x10000000 + 9 * 65536, hostname=node.netns, memory=512 << 20,
                      pids=512, cpu_weight=100, own_network=node.role != "frontend")
    ports = tuple(replace(p, mac=f"02:08:0a:08:{i:02x}:{int(p.host[-2:]):02x}")
                  for i, p in enumerate(node.ports))
    return replace(node, sandbox=box, ports=ports)


def one_round(dp: LinuxDataPlane, sandboxed: bool) -> list[float]:
    fe, backends = (_boxed(FE), [_boxed(b) for b in BACKENDS]) if sandboxed else (FE, BACKENDS)
    t0 = time.perf_counter()
    for s in SUBNETS:
        dp.ensure_subnet(s)
    t1 = time.perf_counter()
    for n in (fe, *backends):
        dp.ensure_node(n)
    dp.set_backends(fe.netns, ("10.8.1.11", "10.8.1.12", "10.8.1.13"))
    t2 = time.perf_counter()
    for n in backends:
        dp.start_process(ProcessSpec(f"bench-{n.netns}", n.netns, ("sleep", "60"),
                                     sandboxed=sandboxed))
    t3 = time.perf_counter()
    for n in (fe, *backends):
        dp.ensure_node(n)
    t4 = time.perf_counter()
    dp.observe()
    t5 = time.perf_counter()
    for n in (fe, *backends):
        dp.delete_node(n.netns)
    t6 = time.perf_counter()
    for s in SUBNETS:
        dp.delete_subnet(s.bridge)
    t7 = time.perf_counter()
    marks = (t0, t1, t2, t3, t4, t5, t6, t7)
    return [(b - a) * 1000 for a, b in zip(marks, marks[1:], strict=False)]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    dp = LinuxDataPlane(Path(tempfile.mkdtemp(prefix="facade-bench-")))
    labels = ("subnets", "fe+3 backends", "3 processes", "re-ensure", "observe",
              "delete nodes", "delete subnets")
    rows: dict[bool, list[list[float]]] = {False: [], True: []}
    try:
        for _ in range(rounds):
            for sandboxed in (False, True):
                rows[sandboxed].append(one_round(dp, sandboxed))
    finally:
        dp.cleanup()
    print(f"linux driver, appliance-sized layout, {rounds} rounds, median ms\n")
    print("| nodes | " + " | ".join(labels) + " |")
    print("|---" * (len(labels) + 1) + "|")
    for sandboxed in (False, True):
        cols = list(zip(*rows[sandboxed], strict=True))
        print(f"| {'sandboxed' if sandboxed else 'no sandbox'} | "
              + " | ".join(f"{statistics.median(c):.0f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
