"""What one node's making costs in the kernel as the host fills up (root, in a sandbox of its
own: `tests/integration/sandbox`). The linux driver alone, no control plane: a front-end and a
backend as the control plane makes them for an appliance of one backend (a customer subnet,
the service's backend subnet, the management subnet; the backend in a sandbox of its own
network, the front-end's sandbox sharing Facade's), made N times over, and at each count in
`--counts` a sample of new pairs is made and timed step by step (nodes.py's trace), then
deleted again. Answers whether a step grows with the number of namespaces, links and
sandboxes on the host, and which one.

Run: tests/integration/sandbox .venv/bin/python bench/node_cost.py --counts 10,500 --sample 9
(`--profile FILE`: a cProfile of the sample at the last count, for `python -m pstats FILE`.)
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import re
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from facade.dataplane.linux import LinuxDataPlane
from facade.domain.specs import (
    FrontendSpec,
    NodeSpec,
    PortSpec,
    SandboxSpec,
    SubnetSpec,
)

CUSTOMER = SubnetSpec("fcdb9001", "10.90.0.0/16")
BACKEND = SubnetSpec("fcdb9002", "10.91.0.0/16")
MANAGEMENT = SubnetSpec("fcdb9003", "10.92.0.0/16")


def _addr(base: str, i: int) -> str:
    return f"{base}.{10 + i // 250}.{1 + i % 250}"


def _mac(subnet: int, i: int) -> str:
    return f"02:09:{subnet:02x}:00:{i >> 8 & 0xff:02x}:{i & 0xff:02x}"


def _box(netns: str, i: int, own_network: bool) -> SandboxSpec:
    return SandboxSpec(uid=0x10000000 + i * 65536, hostname=netns, memory=256 << 20, pids=256,
                       cpu_weight=100, own_network=own_network)


def pair(i: int) -> tuple[NodeSpec, NodeSpec]:
    """The front-end and the backend of appliance i, as the control plane shapes them."""
    fe_ns, be_ns = f"fcd-i{9000 + 2 * i}-fe", f"fcd-i{9001 + 2 * i}-be"
    be_addr = _addr("10.91", i)
    fe = NodeSpec(fe_ns, "frontend", (
        PortSpec(f"fcdv9{2 * i:05d}a", CUSTOMER.bridge, "eth0", f"{_addr('10.90', i)}/16",
                 mac=_mac(1, i)),
        PortSpec(f"fcdv9{2 * i:05d}b", BACKEND.bridge, "eth1", f"{_addr('10.91', 2000 + i)}/16",
                 mac=_mac(2, 2000 + i)),
        PortSpec(f"fcdv9{2 * i:05d}c", MANAGEMENT.bridge, "eth2", f"{_addr('10.92', i)}/16",
                 mac=_mac(3, i)),
    ), FrontendSpec("eth0", "eth1", _addr("10.90", i), 80), sandbox=_box(fe_ns, 2 * i, False))
    be = NodeSpec(be_ns, "backend", (
        PortSpec(f"fcdv9{2 * i + 1:05d}a", BACKEND.bridge, "eth0", f"{be_addr}/16",
                 mac=_mac(2, i)),
        PortSpec(f"fcdv9{2 * i + 1:05d}b", MANAGEMENT.bridge, "eth1",
                 f"{_addr('10.92', 2000 + i)}/16", mac=_mac(3, 2000 + i)),
    ), sandbox=_box(be_ns, 2 * i + 1, True))
    return fe, be


class Steps(logging.Handler):
    """Collects nodes.py's trace: each step's time, by the node's role."""

    LINE = re.compile(r"ensure_node fcd-i\d+-(fe|be) steps \(ms\): (.*); "
                      r"wall (\d+), this thread's CPU (\d+)")
    STEP = re.compile(r"(.+?) (\d+)(?:, |$)")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.on = False
        self.spent: dict[str, list[float]] = defaultdict(list)

    def emit(self, record: logging.LogRecord) -> None:
        found = self.LINE.match(record.getMessage())
        if not self.on or not found:
            return
        for step, ms in self.STEP.findall(found.group(2)):
            self.spent[f"{found.group(1)} {step}"].append(float(ms))
        self.spent[f"{found.group(1)} (all)"].append(float(found.group(3)))
        self.spent[f"{found.group(1)} (all: the thread's CPU)"].append(float(found.group(4)))


@dataclass
class Sample:
    count: int
    pair_ms: list[float]
    delete_ms: list[float]
    steps: dict[str, list[float]]


def sample(dp: LinuxDataPlane, steps: Steps, count: int, size: int,
           profile: cProfile.Profile | None) -> Sample:
    made, deleted = [], []
    steps.spent = defaultdict(list)
    steps.on = True
    for k in range(size):
        fe, be = pair(count + k)
        t0 = time.perf_counter()
        if profile:
            profile.enable()
        dp.ensure_node(fe)
        dp.ensure_node(be)
        if profile:
            profile.disable()
        t1 = time.perf_counter()
        dp.delete_node(fe.netns)
        dp.delete_node(be.netns)
        t2 = time.perf_counter()
        made.append((t1 - t0) * 1e3)
        deleted.append((t2 - t1) * 1e3)
        time.sleep(0.2)  # the deleted namespaces' teardown, not on the next one's clock
    steps.on = False
    return Sample(count - 5000, made, deleted, dict(steps.spent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10,500", help="appliances present, ascending")
    parser.add_argument("--sample", type=int, default=9, help="pairs made at each count")
    parser.add_argument("--profile", type=Path, help="cProfile of the last count's sample")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    steps = Steps()
    trace = logging.getLogger("facade.trace")
    trace.setLevel(logging.DEBUG)
    trace.addHandler(steps)
    # this plane's cgroups only: other planes on the machine keep theirs
    dp = LinuxDataPlane(Path(tempfile.mkdtemp(prefix="facade-node-cost-")), this_plane_only=True)
    results: list[Sample] = []
    built = 0
    try:
        for s in (CUSTOMER, BACKEND, MANAGEMENT):
            dp.ensure_subnet(s)
        for count in counts:
            t0 = time.perf_counter()
            while built < count:
                for node in pair(built):
                    dp.ensure_node(node)
                built += 1
            print(f"{count} pairs present ({time.perf_counter() - t0:.0f} s to build)",
                  flush=True)
            profile = cProfile.Profile() if args.profile and count == counts[-1] else None
            results.append(sample(dp, steps, 5000 + count, args.sample, profile))
            if profile:
                profile.dump_stats(args.profile)
    finally:
        dp.cleanup()
    report(results)


def report(results: list[Sample]) -> None:
    print("\nmedian ms: a front-end and a backend made, then deleted")
    print("| pairs present | make both | delete both |")
    print("|---|---|---|")
    for r in results:
        print(f"| {r.count} | {statistics.median(r.pair_ms):.0f} "
              f"| {statistics.median(r.delete_ms):.0f} |")
    keys = sorted({k for r in results for k in r.steps})
    print("\nmedian ms per step (nodes.py's trace)")
    print("| step | " + " | ".join(str(r.count) for r in results) + " |")
    print("|---" * (len(results) + 1) + "|")
    for k in keys:
        cells = [f"{statistics.median(r.steps[k]):.1f}" if k in r.steps else "-"
                 for r in results]
        print(f"| {k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
