"""Benchmark: what one appliance's creation (the POST's own work) costs with N appliances in the
store (issue 11: is the POST's 0.11 s at 150 appliances, against 0.05 s at 10, in
bench/scale.py's traces its own cost growing with N, or time spent waiting for the
interpreter beside the controller?).

No root needed: the service layer in-process on the fake data plane, no controller running, so
nothing competes. The store is filled through the service layer (bench/reads.py's `fill`, with
B backends per appliance), then `appliances.create` (what `POST /v1/appliances` calls) is
timed SAMPLE times at each N: the thread's CPU and the wall time, with the statements it sends
to the database. Prints a Markdown table; docs/benchmarks.md records its output.

    PYTHONPATH=src:. .venv/bin/python bench/create_cost.py [--counts 10,150] [--backends 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.reads import counting, world

from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts, appliances
from facade.service.context import Caller, Context

BATCH = 50  # appliances per write transaction while filling the store


def grow(ctx: Context, operator: Caller, have: int, want: int, backends: int) -> int:
    for start in range(have, want, BATCH):
        with ctx.write() as session:
            for i in range(start, min(start + BATCH, want)):
                appliances.new_appliance(ctx, session, operator, name=f"app{i:04d}",
                                         account="acme", service="search",
                                         subnet="acme-vpc/app", backends=backends)
    return want


def sample(ctx: Context, operator: Caller, n: int, runs: int, backends: int
           ) -> tuple[float, float, int]:
    """Median thread CPU and wall seconds of one creation, and its statements."""
    cpu, wall, statements = [], [], 0
    for j in range(runs):
        with counting(ctx) as count:
            c0, w0 = time.thread_time(), time.perf_counter()
            appliances.create(ctx, operator, name=f"probe{n}-{j}", account="acme",
                              service="search", subnet="acme-vpc/app", backends=backends)
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - w0)
        statements = count[0]
    return statistics.median(cpu), statistics.median(wall), statements


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="10,150", help="appliances present, comma separated")
    ap.add_argument("--backends", type=int, default=3)
    ap.add_argument("--sample", type=int, default=15, help="creations timed at each count")
    args = ap.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context.open(Path(tmp) / "home", FakeDataPlane())
        ctx.kick = lambda: None  # type: ignore[method-assign]  # no controller to tell
        token = accounts.bootstrap_operator(ctx)
        assert token
        operator = accounts.authenticate(ctx, token)
        world(ctx, operator)
        have, rows = 0, []
        for n in counts:
            have = grow(ctx, operator, have, n, args.backends)
            cpu, wall, statements = sample(ctx, operator, n, args.sample, args.backends)
            have += args.sample
            rows.append((n, cpu, wall, statements))
        ctx.engine.dispose()
    base = rows[0][1]
    print(f"| appliances present ({args.backends} backends each) | one creation: CPU "
          f"(x the first) | wall | statements |")
    print("|---|---|---|---|")
    for n, cpu, wall, statements in rows:
        print(f"| {n} | {cpu * 1000:.1f} ms ({cpu / base:.2f}) | {wall * 1000:.1f} ms | "
              f"{statements} |")


if __name__ == "__main__":
    main()
