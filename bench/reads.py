"""Benchmark: list and show reads with 1,000 appliances in the store (issue 11, "Reads that stay
fast": `GET /v1/appliances?limit=100` at most 50 ms, `GET /v1/appliances/{name}` at most 10 ms).

No root needed: the API app in-process (Starlette's TestClient, as the service tests use it) on
the fake data plane. The store is filled through the service layer, 100 appliances (1 backend
each) per write transaction. Then the state the controller would reach is written directly:
every appliance `ready`, every node `active`, and what each node's agent says (the shape of
service/management.poll) in the views' management map. (`--controller` runs the real
controller on the fake data plane until that is so instead; that works for a few hundred
appliances, not for 1,000: its metering and management ticks look up each node's management
network one node at a time, and did not get one appliance ready in 10 minutes here.) Nothing
runs meanwhile, so the timings are the reads' own. Each read is timed RUNS times, as the
operator (who sees everything) and as the customer: the first page, a page in the middle (a
cursor), the whole list in pages of 1,000 (what `facade appliance list` does), and one
appliance by name. As the server does once it has started, the heap made so far is frozen
(gc.freeze: out of the collector's full passes); `--no-freeze` shows what that saves. Prints a
Markdown table with the statements each request sends to the database; docs/benchmarks.md
records its output.

    PYTHONPATH=src .venv/bin/python bench/reads.py [--appliances 1000] [--runs 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from facade.api.app import create_app
from facade.controller import Controller
from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts, appliances, catalog, networks, quotas
from facade.service.context import Caller, Context
from facade.store.models import Appliance, Instance

BATCH = 100  # appliances per write transaction while filling the store
# appliances per service: a subnet is a Linux bridge of at most 1,022 interfaces
# (domain/ipam.py), and a service's management subnet holds two per appliance
PER_SERVICE = 400


def fill(ctx: Context, operator: Caller, n: int) -> tuple[str, float]:
    """acme's subnet, searchco's services, n appliances of acme; returns acme's token and the
    seconds it took."""
    t0 = time.perf_counter()
    world(ctx, operator, -(-n // PER_SERVICE))
    for start in range(0, n, BATCH):
        with ctx.write() as session:
            for i in range(start, min(start + BATCH, n)):
                appliances.new_appliance(ctx, session, operator, name=f"app{i:04d}",
                                         account="acme", service=f"search{i // PER_SERVICE}",
                                         subnet="acme-vpc/app", backends=1)
    token = accounts.create_token(ctx, operator, "acme").token
    return str(token), time.perf_counter() - t0


def world(ctx: Context, operator: Caller, services: int) -> None:
    """acme's subnet (a /20) and searchco's services `search0`.. (each its own backend and
    management subnets, /22 each, in one network), acme's quotas out of the way."""
    for name in ("acme", "searchco"):
        accounts.create(ctx, operator, name)
    room = 100_000  # domain.quotas.MAX_LIMIT
    quotas.set_(ctx, operator, "acme", {"appliances": room, "backends": room})
    networks.create_network(ctx, operator, "acme-vpc", "acme", "10.0.0.0/16",
                            [{"name": "app", "cidr": "10.0.0.0/20"}])
    networks.create_network(ctx, operator, "search-vpc", "searchco", "10.1.0.0/16", [
        subnet for k in range(services)
        for subnet in ({"name": f"backend{k}", "cidr": f"10.1.{8 * k}.0/22"},
                       {"name": f"mgmt{k}", "cidr": f"10.1.{8 * k + 4}.0/22"})])
    for k in range(services):
        catalog.create(ctx, operator, name=f"search{k}", account="searchco",
                       workload_name="http-echo", command=None, port=80,
                       backend_subnet=f"search-vpc/backend{k}",
                       management_subnet=f"search-vpc/mgmt{k}")


def converge(ctx: Context) -> float:
    """Write what the controller would: appliances ready, nodes active, and each node's agent's
    last answer in the management map the views read."""
    t0 = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    checked = now.isoformat(timespec="milliseconds")
    with ctx.write(track=False) as session:
        session.execute(update(Appliance).values(
            status="ready", status_detail="endpoint answered: HTTP 200", ready_at=now))
        session.execute(update(Instance).values(status="active"))
        nodes = session.execute(select(Instance.name, Instance.role)
                                .where(Instance.appliance_id.is_not(None))).all()
    ctx.management = {
        name: {"reachable": True, "detail": "HTTP 200", "uptime_s": 61.5, "checked": checked,
               "workload": {"ok": True, "detail": "HTTP 200"} if role == "backend" else None}
        for name, role in nodes}
    return time.perf_counter() - t0


def settle(ctx: Context, client: TestClient, headers: dict[str, str], n: int,
           timeout: float) -> float:
    """Run the controller until every appliance is ready and the agents were polled."""
    t0 = time.perf_counter()
    worker = Controller(ctx)
    worker.start()
    try:
        while True:
            pages = list(walk(client, headers, 1000))
            ready = sum(1 for a in pages if a["status"] == "ready")
            polled = all((a["frontend"] or {}).get("management") for a in pages)
            if ready == n and polled:
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"{ready} of {n} appliances ready after {timeout:.0f} s")
            time.sleep(0.5)
    finally:
        worker.stop()


def walk(client: TestClient, headers: dict[str, str], limit: int) -> Iterator[dict[str, Any]]:
    """Every appliance, following next_cursor."""
    params: dict[str, Any] = {"limit": limit}
    while True:
        r = client.get("/v1/appliances", params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        yield from body["items"]
        if body["next_cursor"] is None:
            return
        params["cursor"] = body["next_cursor"]


@contextmanager
def counting(ctx: Context) -> Iterator[list[int]]:
    """Counts the statements sent to the database meanwhile."""
    count = [0]

    def on_execute(*_: Any) -> None:
        count[0] += 1

    event.listen(ctx.engine, "before_cursor_execute", on_execute)
    try:
        yield count
    finally:
        event.remove(ctx.engine, "before_cursor_execute", on_execute)


def timed(ctx: Context, runs: int,
          request: Callable[[], Any]) -> tuple[list[float], list[float], float]:
    """Per call over `runs` calls (after 5 to warm up): wall-clock milliseconds, CPU
    milliseconds of this process (client and server: the app runs in a thread of it), and
    statements sent to the database."""
    for _ in range(5):
        request()
    wall, cpu = [], []
    with counting(ctx) as count:
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            request()
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    return wall, cpu, count[0] / runs


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--appliances", type=int, default=1000, help="at least 200")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--controller", action="store_true",
                    help="settle with the real controller (a few hundred appliances at most)")
    ap.add_argument("--settle-timeout", type=float, default=600.0)
    ap.add_argument("--no-freeze", action="store_true",
                    help="leave the start-up heap to the collector (the server freezes it)")
    args = ap.parse_args()
    n, runs = args.appliances, args.runs
    if n < 200 or runs < 20:
        ap.error("give at least 200 appliances (a page in the middle) and 20 runs (a p95)")
    with tempfile.TemporaryDirectory(prefix="facade-bench-reads-") as tmp:
        ctx = Context.open(Path(tmp) / "home", FakeDataPlane())
        op_token = accounts.bootstrap_operator(ctx)
        assert op_token
        acme_token, fill_s = fill(ctx, accounts.authenticate(ctx, op_token), n)
        op = {"Authorization": f"Bearer {op_token}"}
        acme = {"Authorization": f"Bearer {acme_token}"}
        with TestClient(create_app(ctx)) as client:
            if args.controller:
                settle_s = settle(ctx, client, op, n, args.settle_timeout)
                how = f"controller settled in {settle_s:.1f} s"
            else:
                how = f"converged state written in {converge(ctx):.1f} s"
            if not args.no_freeze:  # as api/server.py does once the app is made
                gc.collect()
                gc.freeze()
            names = [a["name"] for a in walk(client, op, 1000)]
            assert len(names) == n, len(names)
            first = client.get("/v1/appliances", params={"limit": 100}, headers=op).json()
            middle_cursor = first["next_cursor"]
            for _ in range(n // 200 - 1):  # to the page in the middle
                middle_cursor = client.get("/v1/appliances", headers=op, params={
                    "limit": 100, "cursor": middle_cursor}).json()["next_cursor"]
            rng = random.Random(11)

            def get(path: str, headers: dict[str, str], **params: Any) -> Callable[[], Any]:
                def call() -> Any:
                    r = client.get(path, params=params or None, headers=headers)
                    assert r.status_code == 200, r.text
                    return r
                return call

            def one(headers: dict[str, str]) -> Callable[[], Any]:
                def call() -> Any:
                    r = client.get(f"/v1/appliances/{rng.choice(names)}", headers=headers)
                    assert r.status_code == 200, r.text
                    return r
                return call

            cases: list[tuple[str, str, Callable[[], Any], int]] = [
                ("`GET /v1/appliances?limit=100`", "operator",
                 get("/v1/appliances", op, limit=100), runs),
                ("`GET /v1/appliances?limit=100`", "customer",
                 get("/v1/appliances", acme, limit=100), runs),
                (f"`GET /v1/appliances?limit=100&cursor=` (page {n // 200 + 1} of "
                 f"{-(-n // 100)})", "operator",
                 get("/v1/appliances", op, limit=100, cursor=middle_cursor), runs),
                ("`GET /v1/appliances/{name}`", "operator", one(op), runs),
                ("`GET /v1/appliances/{name}`", "customer", one(acme), runs),
                (f"all {n} in pages of 1,000 (`facade appliance list`)", "operator",
                 lambda: list(walk(client, op, 1000)), max(5, runs // 20)),
            ]
            rows = []
            for label, who, call, k in cases:
                wall, cpu, statements = timed(ctx, k, call)
                rows.append(f"| {label} | {who} | {statistics.median(wall):.1f} | "
                            f"{p95(wall):.1f} | {statistics.median(cpu):.1f} | "
                            f"{p95(cpu):.1f} | {statements:.0f} |")
        ctx.engine.dispose()
    load = os.getloadavg()[0]
    print(f"reads with {n} appliances (1 backend each) in the store, fake data plane, "
          f"{runs} runs each; {time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end; store filled in "
          f"{fill_s:.0f} s, {how}, start-up heap "
          f"{'left to the collector' if args.no_freeze else 'frozen'} (ms)\n")
    print("| request | as | wall median | wall p95 | CPU median | CPU p95 | SQL statements |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
