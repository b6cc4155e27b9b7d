"""The health engine: every backend's check on its own timer, never a step of a reconcile.

Each backend the appliance reconciler registers is checked as its service's health check says
(domain/health.py: every `interval`, each check bounded by its `timeout`): an HTTP GET or a TCP
connection from inside the backend's own namespace, or a question to its management agent
(signed, over the management subnet) whether a process listens on the service port. TCP and
HTTP checks that fall due together (within GATHER of the first) run side by side in batches
(the data plane's probe_many: one thread, non-blocking sockets, HTTP connections kept alive),
each within its own timeout; agent checks run one per pool thread. At most MAX_IN_FLIGHT
checks run at once, and a slow check never delays or fails another beyond its own timeout.
A backend becomes healthy after `rise` checks in a row succeed and unhealthy after `fall` fail (checked
at the fast interval meanwhile); only a change queues its appliance (its rotation) and, when it
turns unhealthy, its node (a dead workload or a deleted namespace is repaired at once instead
of at the next resync). A check whose namespace is gone says so (`present`), for the healer.

The healer (controller/healing.py) reviews the registered backends every second: one that stays
unhealthy is replaced by a new node, through the service layer (a tracked write: the new node
and the old one's deletion reach the queue as any write does).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from facade.controller import healing
from facade.controller.costs import Costs
from facade.domain import keys
from facade.domain.errors import FacadeError
from facade.domain.health import HealthCheck
from facade.domain.keys import Key
from facade.domain.specs import DesiredState, Probe
from facade.domain.states import ApplianceStatus, NodeStatus
from facade.service import appliances, management
from facade.service import desired as desired_mod
from facade.service.context import Context
from facade.service.metrics import Metrics, health_outcome
from facade.store.models import Appliance, Instance

log = logging.getLogger("facade.health")
trace = logging.getLogger("facade.trace")  # a starting backend's checks, with FACADE_TRACE

# a backend just made (or whose workload was just started) is checked this often until it
# first answers, for at most STARTING seconds: it joins the rotation as soon as it listens
STARTING_INTERVAL = 0.025
STARTING = 10.0
MAX_IN_FLIGHT = 256  # checks at once
# checks due within this many seconds of the first one due are run with it, in one batch: at
# 500 backends on their own timers, batches of a few cost their batch's overhead each
# (measured at 150 backends: 99 us of CPU a check in batches of 12, 80 us in batches of 48)
GATHER = 0.1
BATCH = 64  # TCP and HTTP checks run side by side in batches of this many (probe_many)
THREADS = 16  # batches and agent checks at once
REVIEW_EVERY = 1.0


@dataclass
class _State:
    target: desired_mod.BackendTarget
    appliance_id: int
    port: int
    check: HealthCheck
    healthy: bool = False
    checked: bool = False  # at least one check came back (before, its health is unknown)
    present: bool = False
    streak: int = 0  # checks in a row that disagree with `healthy`
    in_flight: bool = False
    due: float = 0.0
    detail: str = "not checked yet"
    starting_until: float = 0.0  # checked at STARTING_INTERVAL until then, or until healthy

    def starting(self, now: float) -> bool:
        """Not healthy yet, and checked at STARTING_INTERVAL."""
        return not self.healthy and now < self.starting_until


class HealthEngine:
    def __init__(self, ctx: Context, touch: Callable[[Iterable[Key]], object],
                 clock: Callable[[], float] = time.monotonic, *,
                 costs: Costs | None = None, metrics: Metrics | None = None) -> None:
        self.ctx = ctx
        self.touch = touch
        self.clock = clock
        self.costs = costs or Costs()
        self.metrics = metrics or Metrics()  # the control plane's (ctx.metrics) when running
        self.healer = healing.Healer(clock)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._states: dict[str, _State] = {}  # backend netns -> state
        self._apps: dict[int, desired_mod.ApplianceTarget] = {}
        self._heap: list[tuple[float, str]] = []
        self._in_flight = 0
        self._pool = ThreadPoolExecutor(max_workers=THREADS,
                                        thread_name_prefix="facade-health")
        self._stop = False
        self._thread: threading.Thread | None = None
        self._last_review = float("-inf")

    # -- what the reconcilers tell it --------------------------------------------------------
    def register(self, app: desired_mod.ApplianceTarget) -> None:
        """An appliance's backends to check (replacing what it registered before)."""
        appliance_id = app.id
        with self._lock:
            self._apps[appliance_id] = app
            keep = {b.netns for b in app.backends}
            for netns in [n for n, s in self._states.items()
                          if s.appliance_id == appliance_id and n not in keep]:
                del self._states[netns]
            now = self.clock()
            for b in app.backends:
                state = self._states.get(b.netns)
                if state is None:
                    self._states[b.netns] = state = _State(
                        target=b, appliance_id=appliance_id, port=app.port,
                        check=app.health, due=now, starting_until=now + STARTING)
                    heapq.heappush(self._heap, (now, b.netns))
                else:
                    state.target, state.port, state.check = b, app.port, app.health
            self._wake.notify_all()

    def forget(self, appliance_id: int) -> None:
        with self._lock:
            self._forget(appliance_id)

    def _forget(self, appliance_id: int) -> None:
        self._apps.pop(appliance_id, None)
        for netns in [n for n, s in self._states.items() if s.appliance_id == appliance_id]:
            del self._states[netns]

    def healthy(self, netns: str) -> bool | None:
        """Whether this backend passes its check; None while it was never checked (just
        registered: after a restart the rotation keeps it until its first check says)."""
        with self._lock:
            state = self._states.get(netns)
            if state is None or not state.checked:
                return None
            return state.healthy

    def failing(self) -> frozenset[int]:
        """Instance ids of the registered backends not (yet) healthy."""
        with self._lock:
            return frozenset(s.target.instance_id for s in self._states.values()
                             if not s.healthy)

    def detail(self, netns: str) -> str:
        with self._lock:
            state = self._states.get(netns)
            return state.detail if state is not None else "not checked"

    def poke(self, netns: str) -> None:
        """Check this backend now (its node or workload was just made)."""
        with self._lock:
            state = self._states.get(netns)
            if state is not None:
                state.starting_until = self.clock() + STARTING
                if not state.in_flight:
                    state.due = self.clock()
                    heapq.heappush(self._heap, (state.due, netns))
                    self._wake.notify_all()

    # -- running -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="facade-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._stop:
                    return
                now = self.clock()
                due, wait = self._take_due(now)
            direct = [s for s in due if s.check.type != "agent"]
            # a backend still starting is checked apart from the steady ones: a batch's
            # verdicts come back when its slowest check is done (up to its timeout), and a
            # new backend's first passing check is what its appliance waits for
            starting = [s for s in direct if s.starting(now)]
            steady = [s for s in direct if not s.starting(now)]
            if starting:
                trace.debug("health: checking %d starting (%s)", len(starting),
                            " ".join(s.target.netns for s in starting))
            for batch in (starting, steady):
                for i in range(0, len(batch), BATCH):
                    self._pool.submit(self._check_batch, batch[i:i + BATCH])
            for state in due:
                if state.check.type == "agent":
                    self._pool.submit(self._check, state)
            try:
                if now - self._last_review >= REVIEW_EVERY:
                    self._last_review = now
                    with self.costs.measure("healing review"):
                        self._review()
            except Exception:  # the engine must survive anything
                log.exception("healing review failed")
            with self._lock:
                if not self._stop:
                    self._wake.wait(max(0.005, min(wait, 0.2)))

    def _take_due(self, now: float) -> tuple[list[_State], float]:
        """(Under the lock.) The checks to run now: those due, with those due within GATHER
        of now (one batch for checks due close together), except a starting backend's before
        its time (its interval is below GATHER: gathered early, it would be checked back to
        back, a thousand refused connections a second while its workload starts); and how
        long until the next is due."""
        due: list[_State] = []
        early: list[tuple[float, str]] = []
        while self._heap and self._heap[0][0] <= now + GATHER \
                and self._in_flight < MAX_IN_FLIGHT:
            when, netns = heapq.heappop(self._heap)
            state = self._states.get(netns)
            if state is None or state.in_flight or state.due != when:
                continue  # forgotten, or a newer entry stands for it
            if when > now and state.starting(now):
                early.append((when, netns))
                continue
            state.in_flight = True
            self._in_flight += 1
            due.append(state)
        for entry in early:
            heapq.heappush(self._heap, entry)
        return due, (self._heap[0][0] - now) if self._heap else 1.0

    def _check(self, state: _State) -> None:
        """A check through the backend's management agent, alone."""
        with self.costs.measure("agent checks"):
            self._check_agent(state)

    def _check_agent(self, state: _State) -> None:
        try:
            ok, detail, present = self._ask_agent(state.target, state.check)
        except Exception as exc:  # a probe never takes the engine down
            ok, detail, present = False, f"{type(exc).__name__}: {exc}", None
        self._record([(state, ok, detail, present)])

    def _check_batch(self, states: list[_State]) -> None:
        """TCP and HTTP checks side by side (the data plane's probe_many)."""
        with self.costs.measure("health checks", len(states)):
            self._run_batch(states)

    def _run_batch(self, states: list[_State]) -> None:
        # a backend on a simulated host that does not run fails at once: its check runs
        # inside its own namespace, which a host cut off from the others still answers
        down = {h for h in {s.target.host for s in states} - {None}
                if h is not None and not self.ctx.dataplane.host_alive(h)}
        if down:
            self._record([(s, False, f"its host {s.target.host} does not run", None)
                          for s in states if s.target.host in down])
            states = [s for s in states if s.target.host not in down]
            if not states:
                return
        probes = [Probe(netns=s.target.netns, ip=s.target.ip, port=s.port,
                        timeout=s.check.timeout,
                        path=s.check.path if s.check.type == "http" else None) for s in states]
        try:
            results = self.ctx.dataplane.probe_many(probes)
        except Exception as exc:  # a probe never takes the engine down
            failed = f"{type(exc).__name__}: {exc}"
            self._record([(s, False, failed, None) for s in states])
            return
        verdicts: list[tuple[_State, bool, str, bool | None]] = []
        for state, res in zip(states, results, strict=True):
            ok, detail = (state.check.judge(res.status, res.detail)
                          if state.check.type == "http" else (res.ok, res.detail))
            verdicts.append((state, ok, detail, not res.detail.startswith("no namespace")))
        self._record(verdicts)

    def _record(self, verdicts: list[tuple[_State, bool, str, bool | None]]) -> None:
        """Checks came back: (state, passed, what it saw, whether its namespace exists: None
        if the check cannot tell)."""
        touched: list[Key] = []
        for state, ok, detail, _ in verdicts:
            self.metrics.health_checked(state.check.type, health_outcome(ok, detail))
        with self._lock:
            for state, ok, detail, present in verdicts:
                if self._record_one(state, ok, detail, present):
                    touched.append(keys.appliance(state.appliance_id))
                    if not ok:  # repair a dead workload at once
                        touched.append(keys.node(state.target.instance_id))
            self._wake.notify_all()
        if touched:
            self.touch(touched)

    def _record_one(self, state: _State, ok: bool, detail: str, present: bool | None) -> bool:
        """One verdict (under the lock); True if the backend's health changed."""
        b, hc = state.target, state.check
        changed = False
        if state.starting(self.clock()):
            trace.debug("health %s: starting, %s (%s)", b.netns,
                        "passed" if ok else "failed", detail)
        state.in_flight = False
        self._in_flight -= 1
        state.detail = detail
        if present is not None:
            state.present = present
        if not state.checked:  # the first verdict: its appliance was waiting for it
            state.checked, changed = True, True
            state.healthy, state.streak = ok, 0
        elif ok != state.healthy:
            state.streak += 1
            if state.streak >= (hc.rise if ok else hc.fall):
                state.healthy, state.streak, changed = ok, 0, True
        else:
            state.streak = 0
        if self._states.get(b.netns) is state:
            now = self.clock()
            if state.healthy or not state.present:
                state.starting_until = 0.0  # started; or no node yet (it pokes when made)
            state.due = now + (STARTING_INTERVAL if state.starting(now)
                               else hc.fast_interval if state.streak else hc.interval)
            heapq.heappush(self._heap, (state.due, b.netns))
        return changed

    def _ask_agent(self, b: desired_mod.BackendTarget, hc: HealthCheck
                   ) -> tuple[bool, str, bool | None]:
        """A check through the backend's management agent: (passed, what it saw, whether the
        backend's namespace exists: None if the agent did not answer)."""
        if b.mgmt is None:
            return False, "no management leg to ask its agent through", None
        # the agent knows a node by its namespace's name (two customers' nodes may share one)
        ok, detail, answered = management.workload_health(
            self.ctx.dataplane, self.ctx.home, b.mgmt[0], b.netns, b.mgmt[1], timeout=hc.timeout)
        return ok, detail, True if answered else None  # it answers from inside the node

    # -- healing -----------------------------------------------------------------------------
    def _review(self) -> None:
        with self._lock:
            want = desired_mod.Desired(state=DesiredState())
            want.appliances = list(self._apps.values())
            present = {n for n, s in self._states.items() if s.present}
            healthy = {n for n, s in self._states.items() if s.healthy}
        for r in self.healer.review(want, present, healthy):
            self._replace(r)

    def _replace(self, r: healing.Replacement) -> None:
        with self.ctx.write() as session:
            app = session.get(Appliance, r.appliance_id)
            node = session.get(Instance, r.instance_id)
            if app is None or node is None or app.status == ApplianceStatus.DELETING \
                    or node.status == NodeStatus.DELETING:
                return
            try:
                with session.begin_nested():
                    appliances.replace_backend(self.ctx, session, app, node, r.reason)
            except FacadeError as exc:  # e.g. the backend subnet is full: keep the old node
                self.ctx.event(session, "appliance.replace_failed", app.name,
                               f"cannot replace {node.name}: {exc.message}",
                               account=app.account_id)
