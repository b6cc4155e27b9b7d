"""The controller: a work queue of keys, workers reconciling one key at a time, the slow resync,
the health engine and the periodic engines (management polls, metering and autoscaling).

The service layer reaches it only as `ctx.kicker` (service/context.py's Kicker): a committed
write hands over the keys it touched (service/changes.py) and may wait for them. Workers (as
many as the driver's `concurrency`) take a key, run its kind's reconciler, and then forget its
failures, bring it back later (`Later`), retry it with backoff (a Retry failure) or leave it
(a Fatal one, reported as an event and in the object's status) until it changes again.

The resync is the safety net for drift, not the engine: every `resync` seconds (60 by
default; FACADE_RESYNC) every key of the store, and every kernel object the store does not
explain (an orphan, found by its name), is queued, one key at a time spread evenly over the
period rather than in a burst, never faster than `resync_rate` keys a second (5 by default;
FACADE_RESYNC_RATE), and in the queue's background lane: a change a user makes never waits
behind the resync's looks. A key's look costs about 10 ms of CPU, so with about 100 appliances
or more the pass takes longer than the period (at 500 appliances, about 300 s) instead of
taking a growing share of a core (docs/guarantees.md states the repair times). At start,
everything is queued at once (in the background lane): a restarted control plane adopts what
exists and repairs what drifted while it was down. The overlay's namespaces (simulated hosts,
the substrate, the route reflector: docs/multi-host.md) are explained by their names, never
orphans.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import select

from facade.controller import node_views
from facade.controller.agents import reconcile_agent
from facade.controller.appliances import reconcile_appliance
from facade.controller.costs import Collections, Costs, describe, describe_waits
from facade.controller.engines import ManagementEngine, MeteringEngine
from facade.controller.fabric import (
    kept_overlay,
    reconcile_orphan,
    reconcile_router,
    reconcile_rules,
    reconcile_subnet,
)
from facade.controller.health import HealthEngine
from facade.controller.nodes import reconcile_node
from facade.controller.queue import WorkQueue
from facade.controller.quiet_views import QuietViews
from facade.controller.runtime import SETTLE, Failed, Later, Runtime
from facade.dataplane.errors import DataPlaneError
from facade.domain import hosts, keys, names
from facade.domain.keys import Key
from facade.service import desired, host_agents, hosts_drain, hosts_loss, request_ids
from facade.service.context import Context
from facade.store.models import Appliance, Instance, Network, Subnet

log = logging.getLogger("facade.controller")
trace = logging.getLogger("facade.trace")  # every key and action, with FACADE_TRACE

RESYNC = 60.0  # seconds: every object is looked at once per period
RESYNC_RATE = 5.0  # keys a second at most
REPORT_EVERY = 60.0  # seconds between two logs of what was done, and its CPU (FACADE_REPORT)

Reconciler = Callable[[Runtime, Key], None]
RECONCILERS: dict[str, Reconciler] = {
    "subnet": reconcile_subnet, "router": reconcile_router, "node": reconcile_node,
    "agent": reconcile_agent, "appliance": reconcile_appliance, "rules": reconcile_rules,
    "orphan-netns": reconcile_orphan, "orphan-bridge": reconcile_orphan,
    "orphan-process": reconcile_orphan,
}


def resync_period() -> float:
    try:
        return max(0.5, float(os.environ.get("FACADE_RESYNC", RESYNC)))
    except ValueError:
        return RESYNC


def report_every() -> float:
    try:
        return max(1.0, float(os.environ.get("FACADE_REPORT", REPORT_EVERY)))
    except ValueError:
        return REPORT_EVERY


def resync_rate() -> float:
    try:
        return max(0.1, float(os.environ.get("FACADE_RESYNC_RATE", RESYNC_RATE)))
    except ValueError:
        return RESYNC_RATE


class Controller:
    def __init__(self, ctx: Context, *, workers: int | None = None,
                 resync: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx = ctx
        self.clock = clock
        self.queue = WorkQueue(clock)
        self.costs = Costs()
        self.collections = Collections(self.costs)
        self.health = HealthEngine(ctx, self.touch, clock, costs=self.costs,
                                   metrics=ctx.metrics)
        self.rt = Runtime(
            ctx=ctx, queue=self.queue, clock=clock, health=self.health,
            node_views=QuietViews(
                ctx, lambda s, first, n: node_views.read_from(s, ctx.home, first, n), clock),
            appliance_views=QuietViews(
                ctx, lambda s, first, n: desired.appliance_targets(s, ctx.home, first, n),
                clock))
        self.management = ManagementEngine(ctx, clock, costs=self.costs)
        self.host_loss = hosts_loss.Watch(ctx.dataplane.host_alive, clock)
        self.drain_said: dict[int, str] = {}  # what a drain step said keeps a host (once)
        self.metering = MeteringEngine(ctx, self._unhealthy, clock, costs=self.costs)
        self.workers = workers or max(1, getattr(ctx.dataplane, "concurrency", 1))
        self.resync = resync if resync is not None else resync_period()
        self.resync_rate = resync_rate()
        self.reconciled = 0  # keys handed out and finished (a figure for benchmarks)
        self.report_every = report_every()
        self._reported = self.clock()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._gate = threading.Event()  # cleared: workers hold (tests only)
        self._gate.set()
        ctx.kicker = self
        ctx.metrics.watch_queue(self.queue.depth_by_kind)

    # -- Kicker (what the service layer sees) --------------------------------------------
    def touch(self, keys: Iterable[Key]) -> int:
        """A write's keys, at once; but a management agent's at most once every SETTLE
        seconds (at once if it was not queued so in the last SETTLE seconds; else at the end of
        that period, once for every write meanwhile): it rewrites the configuration of every
        node it serves (11 ms of CPU at 1,000 nodes), which a batch of creations would
        otherwise repeat; one creation alone has its node in the configuration before the
        node exists (the agent listens once it does), not SETTLE seconds after."""
        now: list[Key] = []
        for key in keys:
            if key.kind == "agent":
                self.queue.throttle(key, SETTLE)
            else:
                now.append(key)
        return self.queue.add(now)

    def wait(self, ticket: int, timeout: float) -> bool:
        if not self._threads:
            return False
        return self.queue.wait(ticket, timeout)

    # -- running -------------------------------------------------------------------------
    def start(self) -> None:
        # adopt what exists, repair what drifted meanwhile (behind any change made meanwhile)
        self.queue.add(self.all_keys(), background=True)
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"facade-controller-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        # and one for the quick kinds alone (queue.QUICK: appliances' rotations and readiness)
        t = threading.Thread(target=self._work, kwargs={"quick": True},
                             name="facade-controller-quick", daemon=True)
        t.start()
        self._threads.append(t)
        for name, fn in (("resync", self._resync), ("report", self._report),
                         ("hosts", self._watch_hosts)):
            t = threading.Thread(target=fn, name=f"facade-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        self.health.start()
        self.management.start()
        self.metering.start()
        self.collections.install()

    def stop(self) -> None:
        self.collections.remove()
        self._stop.set()
        self._gate.set()
        self.queue.close()
        self.metering.stop()
        self.management.stop()
        self.health.stop()
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Workers take no key meanwhile (tests that must land writes before any runs)."""
        self._gate.clear()
        try:
            yield
        finally:
            self._gate.set()

    def _work(self, quick: bool = False) -> None:
        while not self._stop.is_set():
            self._gate.wait()
            key = self.queue.get(timeout=0.5, quick=quick)
            if key is None:
                continue
            # a worker already waiting for a key when `held` began may get one meanwhile:
            # it waits too, and reconciles it with what the held writes made
            self._gate.wait()
            waited, background = self.queue.waited(key)
            if not background:
                self.costs.waited(key.kind, waited)
            # the request that asked for this change, for the events and keys it leads to
            origin = request_ids.current.set(self.queue.origin(key))
            start = time.perf_counter()
            outcome = "error"
            try:
                with self.costs.measure(key.kind):
                    outcome = self._reconcile(key)
            finally:
                took = time.perf_counter() - start
                self.ctx.metrics.reconciled(key.kind, outcome, took)
                if trace.isEnabledFor(logging.DEBUG):
                    trace.debug("%s waited %.3f s%s, reconciled in %.3f s", key, waited,
                                " (resync)" if background else "", took)
                request_ids.current.reset(origin)
                self.queue.done(key)
                self.reconciled += 1

    def _reconcile(self, key: Key) -> str:
        """Run the key's reconciler; how it ended (service/metrics.py's OUTCOMES)."""
        try:
            RECONCILERS[key.kind](self.rt, key)
        except Later as later:
            self.queue.add_after(key, later.delay, keep_waiters=True)
            return "later"
        except Failed as exc:
            if not exc.fatal:
                self.queue.retry(key)
            return "fatal" if exc.fatal else "retry"
        except DataPlaneError as exc:  # from an observation
            log.warning("%s: %s", key, exc)
            if not exc.fatal:
                self.queue.retry(key)
            return "fatal" if exc.fatal else "retry"
        except Exception:  # a reconciler must never take a worker down
            log.exception("reconcile %s failed", key)
            self.queue.retry(key)
            return "error"
        self.queue.forget(key)
        return "ok"

    # -- the resync ----------------------------------------------------------------------
    def all_keys(self) -> list[Key]:
        """Every key of the store, in dependency order, and one per orphan in the kernel."""
        with self.ctx.read() as session:
            subnets = [keys.subnet(i) for i in session.scalars(select(Subnet.id))]
            networks = list(session.scalars(select(Network.id)))
            nodes = {i: n for i, n in session.execute(select(Instance.id, Instance.name))}
            apps = [keys.appliance(i) for i in session.scalars(select(Appliance.id))]
        out = [*subnets, *(keys.router(n) for n in networks),
               *(keys.node(i) for i in nodes), *(keys.agent(n) for n in networks),
               *apps, keys.RULES]
        try:
            inventory = self.ctx.dataplane.inventory()
        except DataPlaneError as exc:
            log.warning("resync: %s", exc)
            return out
        known_bridges = {names.bridge(k.ident) for k in subnets if isinstance(k.ident, int)}
        for bridge in sorted(inventory.subnets - known_bridges):
            sub = names.bridge_id(bridge)
            out.append(keys.subnet(sub) if sub is not None else Key("orphan-bridge", bridge))
        for netns in sorted(inventory.namespaces):
            if kept_overlay(netns):
                continue
            router = names.router_id(netns)
            node = names.node_id(netns)
            if router is not None:
                if router not in networks:
                    out.append(keys.router(router))
            elif node is None or nodes.get(node[0]) != node[1]:
                out.append(Key("orphan-netns", netns))
        for proc in sorted(inventory.processes):
            wl, agent = names.workload_id(proc), names.agent_network_id(proc)
            if agent is not None:
                out.append(keys.agent(agent))
            elif wl is None or wl not in nodes:
                out.append(Key("orphan-process", proc))
        return out

    def _report(self) -> None:
        """Every `report_every` seconds, log what the controller did since the last report
        and the CPU it took (each kind of key reconciled, health checks, management polls,
        metering, the resync's listing: controller/costs.py)."""
        while not self._stop.wait(self.report_every):
            now = self.clock()
            seconds, self._reported = now - self._reported, now
            costs, waits = self.costs.take(), self.costs.take_waits()
            if costs:
                log.info("in the last %.0f s: %s", seconds, describe(costs))
            if waits:
                log.info("queue waits in the last %.0f s: %s", seconds, describe_waits(waits))

    def _watch_hosts(self) -> None:
        """Every HEARTBEAT_EVERY seconds, the hosts whose agent went silent for LOST_AFTER
        seconds marked lost (service/host_agents.py: one read of the hosts with an agent, a
        write only when one went silent), the simulated hosts that stopped (service/
        hosts_loss.py: their backends replaced once lost), and a step of every draining
        host's move (service/hosts_drain.py: one read when no host drains)."""
        while not self._stop.wait(hosts.HEARTBEAT_EVERY):
            try:
                with self.ctx.read() as session:  # one indexed row: the single-host default
                    if not host_agents.any_other(session):  # has nothing more to look at
                        continue
                with self.costs.measure("host watch"):
                    host_agents.mark_lost(self.ctx)
                    for note in self.host_loss.look(self.ctx):
                        log.info("hosts: %s", note)
                    for note in hosts_drain.step(self.ctx, self.health.healthy,
                                                 self.drain_said):
                        log.info("drain: %s", note)
            except Exception:  # the store went away for a moment, say: next second again
                log.exception("host watch")

    def _resync(self) -> None:
        """Every period, every key once, one at a time and evenly spread over the period (or
        further apart, when the keys are more than the rate allows in a period). The first
        pass begins a period after the start (which queued every key)."""
        wait = self.resync
        while not self._stop.wait(wait):
            wait = 0.0
            pass_start = self.clock()
            try:
                with self.costs.measure("resync listing"):
                    pending = self.all_keys()
            except Exception:
                log.exception("resync failed")
                continue
            gap = max(self.resync / max(len(pending), 1), 1.0 / self.resync_rate)
            for key in pending:
                self.queue.add([key], background=True)
                if self._stop.wait(gap):
                    return
            left = self.resync - (self.clock() - pass_start)
            if left > 0 and self._stop.wait(left):
                return

    def _unhealthy(self) -> frozenset[int]:
        """Backends whose check fails or has not passed yet (metering does not wait for their
        workloads)."""
        return self.health.failing()
