"""Benchmark: the control plane's CPU for one metering round (issue 11, "metering ... cost
proportional to what changed"), at rest, on the fake data plane.

No root needed. The store is filled with N appliances of one service (bench/reads.py's `fill`:
a front-end and a backend each, all served by one management agent), the fake data plane is
given every node and the agent's process as the controller would make them, and the agent's
config is written; each front-end's meters have counted some traffic. Then ROUNDS metering ticks run one after the other, as the engine runs
them, nothing moving between them (the fake's counters stay as they are: a round at rest).
Each round's CPU (thread time: waiting for the disk is not CPU) is split into:

- requests: the questions to the agent, the answers parsed (`metering.read`), without what
  the fake data plane spends answering them (the agent's work, not the control plane's);
- recording: the rest, the database transaction (`metering.record` and its commit);

and the requests a round makes are counted. `--per-node` makes the agent one of an older
release (no hub): the control plane then asks each node, as every round did before the hub.
The per-request cost of the linux driver (a socket in the router namespace, the exchange) is
not in these figures: multiply the request count by it (about 0.6 ms, docs/metering.md).

    PYTHONPATH=src .venv/bin/python bench/metering_round.py [--appliances 500] [--rounds 5]
        [--per-node]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from reads import fill  # bench/: the store filled quickly through the service layer

from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts, desired, management, metering
from facade.service.context import Context


def make_world(ctx: Context, dp: FakeDataPlane) -> list[metering.MeteredNode]:
    """The fake data plane as the controller would leave it; the metered nodes."""
    with ctx.read() as session:
        want = desired.build(session, ctx.home)
        nodes = desired.metered_nodes(session)
    for subnet in want.state.subnets:
        dp.ensure_subnet(subnet)
    for node in want.state.nodes:
        dp.ensure_node(node)
    for agent in want.agents:
        management.write_config(ctx.home, agent)
    for proc in want.state.processes:
        dp.start_process(proc)
    for netns, backends in want.state.backends.items():
        dp.set_backends(netns, backends)
        # some traffic through each backend once: a front-end's three meters per backend
        dp.meters.traffic[netns] = {ip: [1_000, 5_000, 3] for ip in backends}
    return nodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--appliances", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-node", action="store_true", help="an agent without a hub")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="facade-bench-meter-") as tmp:
        dp = FakeDataPlane()
        ctx = Context.open(Path(tmp) / "home", dp)
        op = accounts.authenticate(ctx, accounts.bootstrap_operator(ctx) or "")
        fill(ctx, op, args.appliances)
        nodes = make_world(ctx, dp)
        if args.per_node:
            dp.meters.old.update(dp.processes)
        present = {n.instance_id for n in nodes}
        metering.tick(ctx, nodes, present)  # the first readings: every counter is new
        asked, spent = [0], {"fake": 0.0, "read": 0.0}
        real_request, real_read = dp.http_request, metering.read

        def counted(*a: Any, **kw: Any) -> Any:
            asked[0] += 1
            t0 = time.thread_time()
            try:
                return real_request(*a, **kw)
            finally:
                spent["fake"] += time.thread_time() - t0

        def timed_read(*a: Any, **kw: Any) -> Any:
            t0 = time.thread_time()
            try:
                return real_read(*a, **kw)
            finally:
                spent["read"] += time.thread_time() - t0

        dp.http_request = counted  # type: ignore[method-assign]
        metering.read = timed_read  # type: ignore[assignment]
        rows: list[tuple[float, float, float]] = []
        for _ in range(args.rounds):
            time.sleep(0.01)  # node time moves, as between two rounds
            spent.update(fake=0.0, read=0.0)
            t0 = time.thread_time()
            metering.tick(ctx, nodes, present)
            total = time.thread_time() - t0
            rows.append((spent["read"] - spent["fake"], total - spent["read"],
                         total - spent["fake"]))
        how = "one request per node (no hub)" if args.per_node else "the agents' hubs"
        print(f"{args.appliances} appliances, {len(nodes)} nodes, {how}: "
              f"{asked[0] // args.rounds} requests a round")
        print(f"| CPU per round (median of {args.rounds}) | ms |\n|---|---|")
        for i, label in enumerate(("requests and answers, without the fake's side",
                                   "recording (record and commit)",
                                   "the tick in all, without the fake's side")):
            print(f"| {label} | {statistics.median(r[i] for r in rows) * 1000:.0f} |")


if __name__ == "__main__":
    main()
