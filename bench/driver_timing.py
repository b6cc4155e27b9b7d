"""Time the linux driver on an appliance-sized layout (root only): 3 subnets, a front-end with
3 ports, 3 backends with 2 ports each; create, re-ensure (no-op), observe, delete.
Run: sudo .venv/bin/python bench/driver_timing.py [ROUNDS]"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from facade.dataplane.linux import LinuxDataPlane
from facade.domain.specs import FrontendSpec, NodeSpec, PortSpec, SubnetSpec

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


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    dp = LinuxDataPlane(Path(tempfile.mkdtemp(prefix="facade-bench-")))
    for _ in range(rounds):
        t0 = time.perf_counter()
        for s in SUBNETS:
            dp.ensure_subnet(s)
        t1 = time.perf_counter()
        for n in (FE, *BACKENDS):
            dp.ensure_node(n)
        dp.set_backends(FE.netns, ("10.8.1.11", "10.8.1.12", "10.8.1.13"))
        t2 = time.perf_counter()
        for n in (FE, *BACKENDS):
            dp.ensure_node(n)
        t3 = time.perf_counter()
        dp.observe()
        t4 = time.perf_counter()
        for n in (FE, *BACKENDS):
            dp.delete_node(n.netns)
        t5 = time.perf_counter()
        for s in SUBNETS:
            dp.delete_subnet(s.bridge)
        t6 = time.perf_counter()
        ms = [(b - a) * 1000 for a, b in ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5),
                                          (t5, t6))]
        labels = ("subnets", "nodes+backends", "re-ensure", "observe", "delete nodes",
                  "delete subnets")
        print(" | ".join(f"{label} {v:.0f} ms" for label, v in zip(labels, ms, strict=True)))
    dp.cleanup()


if __name__ == "__main__":
    main()
