"""Periodic engines beside the work queue, each on its own timer and thread, none a step of a
reconcile: the management poll (what each node's agent says, for the views and events) and the
metering tick (usage records, and the public gateways' byte counters), which feeds the
autoscaler.

Each keeps its view of the nodes concerned and reads it again from the store only after a write
changed something (Context.generation), and asks them side by side through a small pool of its
own; a slow agent delays its own engine's round, never a reconcile or a health check. Their
cost grows with the number of nodes, so their period does too: a round asks at most
MANAGEMENT_RATE (or METER_RATE) nodes per second of its period, i.e. every node every two
seconds up to 50 nodes, then more slowly (every 40 s at 1,000 nodes; docs/management.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from facade.controller.autoscaling import Scaler
from facade.controller.costs import Costs
from facade.service import desired, edge_metering, kernel_owners, management, metering
from facade.service.context import Context

log = logging.getLogger("facade.engines")
T = TypeVar("T")
R = TypeVar("R")

# seconds between two rounds of questions to the agents, at least: what they say is for the
# views and reachability events (health and rotation are the health engine's, not theirs)
MANAGEMENT_INTERVAL = 2.0
# nodes asked per second of a round's period, at most: each question costs the agent a thread,
# a namespace switch and (a front-end's) an nftables listing; measured at 100 appliances, 100
# a second kept the agents at 19 % of a core and the control plane at 21 % while idle
MANAGEMENT_RATE = 25
# questions asked side by side in one thread (the data plane's probe_many), each over its
# node's own path: 0.55 ms of CPU a question asked alone, on a pool thread, at 500 appliances
POLL_BATCH = 64
METER_RATE = 25
POOL = 8


def period(base: float, nodes: int, rate: float) -> float:
    """A round's period: `base`, or longer so that it asks at most `rate` nodes a second."""
    return max(base, nodes / rate)


class StoreView:
    """What `read(session)` returns, read again only after a write changed the store."""

    def __init__(self, ctx: Context, read: Callable[[Any], Any]) -> None:
        self.ctx, self.read = ctx, read
        self._generation = -1
        self._value: Any = None

    def get(self) -> Any:
        generation = self.ctx.generation
        if generation != self._generation:
            with self.ctx.read() as session:
                self._value = self.read(session)
            self._generation = generation
        return self._value


class Periodic:
    """A function run every `interval` seconds on its own thread until stopped, its CPU
    counted as "NAME round" in `costs`."""

    def __init__(self, name: str, interval: float, fn: Callable[[], None],
                 costs: Costs | None = None) -> None:
        self.name, self.interval, self.fn = name, interval, fn
        self.costs = costs or Costs()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"facade-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.costs.measure(f"{self.name} round"):
                    self.fn()
            except Exception:  # an engine must survive anything
                log.exception("%s round failed", self.name)


class ManagementEngine:
    """Every MANAGEMENT_INTERVAL: each appliance node's agent, asked how the node is."""

    def __init__(self, ctx: Context, clock: Callable[[], float] = time.monotonic, *,
                 costs: Costs | None = None) -> None:
        self.ctx = ctx
        self.costs = costs or Costs()
        self.pool = ThreadPoolExecutor(max_workers=POOL, thread_name_prefix="facade-mgmt")
        self.periodic = Periodic("management", MANAGEMENT_INTERVAL, self.round, self.costs)
        self.agents = StoreView(ctx, desired.agents)

    def round(self) -> None:
        ctx = self.ctx
        agents: list[management.Agent] = self.agents.get()
        jobs = [(a, node) for a in agents if ctx.dataplane.observe_process(a.key) is not None
                for node in a.nodes]
        self.periodic.interval = period(MANAGEMENT_INTERVAL, len(jobs), MANAGEMENT_RATE)

        def ask(batch: list[tuple[management.Agent, management.AgentNode]]
                ) -> list[dict[str, Any]]:
            with self.costs.measure("management polls", len(batch)):
                return management.poll_many(ctx.dataplane, ctx.home, batch)

        notes: list[tuple[str, str, str]] = []
        seen: dict[str, dict[str, Any]] = {}
        batches = [jobs[i:i + POLL_BATCH] for i in range(0, len(jobs), POLL_BATCH)]
        asked = [state for states in self.pool.map(ask, batches) for state in states]
        for (_agent, node), state in zip(jobs, asked, strict=True):
            seen[node.name] = state
            before = ctx.management.get(node.name)
            if before is None or before["reachable"] != state["reachable"]:
                kind = "management.reachable" if state["reachable"] else \
                    "management.unreachable"
                notes.append((kind, node.name, f"agent at {node.mgmt_ip}: {state['detail']}"))
        ctx.management = seen
        if notes:
            with ctx.write(track=False) as session:
                for kind, obj, message in notes:
                    ctx.event(session, kind, obj, message, kernel_owners.owner(session, obj))

    def start(self) -> None:
        self.periodic.start()

    def stop(self) -> None:
        self.periodic.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)


class MeteringEngine:
    """Every METER_INTERVAL: a metering tick over every appliance node, whose increments feed
    the autoscaler, which then reviews the appliances with a policy."""

    def __init__(self, ctx: Context, unhealthy: Callable[[], frozenset[int]],
                 clock: Callable[[], float] = time.monotonic, *,
                 costs: Costs | None = None) -> None:
        self.ctx = ctx
        self.costs = costs or Costs()
        self.unhealthy = unhealthy
        self.scaler = Scaler(clock)
        self.pool = ThreadPoolExecutor(max_workers=POOL, thread_name_prefix="facade-meter")
        self.periodic = Periodic("metering", metering.METER_INTERVAL, self.round, self.costs)
        self.nodes = StoreView(ctx, desired.metered_nodes)
        # the public gateways' byte counters per address (docs/metering.md, "The edge")
        self.gateways = StoreView(ctx, edge_metering.gateways)
        self.gateway_meter = edge_metering.GatewayMeter()

    def _map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """The pool's map, each read measured on the pool thread that makes it."""
        return self.pool.map(self.costs.wrap("metering reads", fn), items)

    def round(self) -> None:
        ctx = self.ctx
        nodes: list[metering.MeteredNode] = self.nodes.get()
        gateways: list[edge_metering.Gateway] = self.gateways.get()
        self.periodic.interval = period(metering.METER_INTERVAL, len(nodes) + len(gateways),
                                        METER_RATE)
        try:  # the gateways' counters never hold up the nodes' metering or the autoscaler
            self.gateway_meter.round(ctx, gateways)
        except Exception:
            log.exception("metering the public gateways failed")
        namespaces = ctx.dataplane.inventory(segments=False).namespaces  # a directory read
        present = {n.instance_id for n in nodes if n.netns in namespaces}
        increments = metering.tick(ctx, nodes, present, self._map, self.unhealthy())
        self.scaler.observe(increments)
        with ctx.write() as session:
            self.scaler.review(ctx, session)

    def start(self) -> None:
        self.periodic.start()

    def stop(self) -> None:
        self.periodic.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
