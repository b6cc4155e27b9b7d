"""The reconcile worker: one thread that makes the kernel match the store, again and again.

A pass: read desired state, observe the kernel, health-check backends, plan, apply, then
record what happened (instance status, appliance readiness, finalised deletions, events).
Passes run when asked (kick) and periodically; while something converges they follow each
other quickly. Only this thread changes the kernel.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import names
from facade.domain.errors import FacadeError
from facade.domain.specs import DesiredState, ObservedState
from facade.reconcile.apply import apply
from facade.reconcile.plan import Action, plan
from facade.service import appliances, autoscaler, files, healing, management, metering
from facade.service import desired as desired_mod
from facade.service.context import Context
from facade.store.models import Appliance, Instance

log = logging.getLogger("facade.worker")

IDLE_INTERVAL = 1.0  # seconds between passes when everything is converged (health checks)
BUSY_INTERVAL = 0.02  # between passes while something is still converging
MANAGEMENT_INTERVAL = 1.0  # seconds between two rounds of questions to the agents
PROBE_THREADS = 16


class Worker:
    def __init__(self, ctx: Context, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx = ctx
        self.clock = clock
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._stop = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self.passes = 0
        self._last_management = float("-inf")
        self._last_meter = float("-inf")
        self.healer = healing.Healer(clock)
        self.scaler = autoscaler.Scaler(clock)
        # the worker's network questions (health checks, agent polls) run side by side
        self.pool = ThreadPoolExecutor(max_workers=PROBE_THREADS,
                                       thread_name_prefix="facade-probe")
        self.last_plan: list[str] = []
        ctx.worker = self

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="facade-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=10)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def kick(self) -> int:
        with self._cond:
            self._requested += 1
            self._cond.notify_all()
            return self._requested

    def kick_and_wait(self, timeout: float) -> bool:
        if self._thread is None or threading.current_thread() is self._thread:
            return False
        gen = self.kick()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._done < gen:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop:
                    return False
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                interval = BUSY_INTERVAL if self._busy else IDLE_INTERVAL
                if self._requested <= self._done and not self._stop:
                    self._cond.wait(interval)
                if self._stop:
                    return
                started = self._requested
            try:
                self._busy = self.run_pass()
            except Exception:  # the loop must survive anything
                log.exception("reconcile pass failed")
                self._busy = False
                time.sleep(0.2)
            with self._cond:
                self._done = max(self._done, started)
                self._cond.notify_all()

    # -- one pass --------------------------------------------------------------------------
    def run_pass(self) -> bool:
        """One reconcile pass; True while something is still converging."""
        ctx, dp = self.ctx, self.ctx.dataplane
        self.passes += 1
        with ctx.read() as session:
            want = desired_mod.build(session, ctx.home)
        observed = dp.observe()
        healthy = self._healthy_backends(want, observed)
        replacements = self.healer.review(want, set(observed.nodes), healthy)
        # backends are told apart by namespace: two appliances' backend subnets may share
        # a CIDR, so an address alone does not name one backend
        in_rotation = {app.frontend_netns: tuple(b.ip for b in app.backends if b.netns in healthy)
                       for app in want.appliances if app.frontend_netns}
        state = DesiredState(subnets=want.state.subnets, nodes=want.state.nodes,
                             processes=want.state.processes,
                             backends={fe: in_rotation.get(fe, ())
                                       for fe in want.state.backends},
                             port_rules=want.state.port_rules)
        self._write_peers(want)
        for agent in want.agents:
            management.write_config(self.ctx.home, agent)
        the_plan = plan(state, observed)
        self.last_plan = [str(a) for a in the_plan.actions]
        self._meter(want, observed, {a.target for a in the_plan.actions
                                     if a.verb == "delete_node"}, healthy)
        failures: dict[str, str] = {}
        notes: list[tuple[str, str, str]] = []

        def report(action: Action, error: str | None) -> None:
            if error:
                failures[action.target] = error
                notes.append(("reconcile.failed", action.target, f"{action}: {error}"))
            elif action.verb in ("ensure_node", "delete_node", "delete_subnet",
                                 "ensure_subnet") or action.reason != "rotation":
                notes.append(("reconcile." + action.verb, action.target, action.reason))
            else:
                notes.append(("reconcile.rotation", action.target,
                              "in rotation: " + (", ".join(action.backends) or "none")))

        result = apply(the_plan, dp, report)
        if the_plan:
            observed = dp.observe()
        self._poll_management(want, observed, notes)
        converging = self._record(want, state, observed, failures, notes, replacements)
        # failures retry at the idle pace, not in a tight loop
        return converging and not result.failed

    def _healthy_backends(self, want: desired_mod.Desired, observed: ObservedState) -> set[str]:
        """The namespaces of the backends whose workload answers, probed from inside each, all
        at once (a hung backend costs one timeout, not one per backend)."""
        dp = self.ctx.dataplane

        def probe(job: tuple[desired_mod.ApplianceTarget, desired_mod.BackendTarget]
                  ) -> str | None:
            app, b = job
            if app.health_path:
                res = dp.http_request(b.netns, b.ip, app.port, app.health_path, timeout=0.5)
            else:
                res = dp.tcp_probe(b.netns, b.ip, app.port, timeout=0.5)
            return b.netns if res.ok else None

        jobs = [(app, b) for app in want.appliances for b in app.backends
                if b.netns in observed.nodes]
        return {netns for netns in self.pool.map(probe, jobs) if netns is not None}

    def _meter(self, want: desired_mod.Desired, observed: ObservedState,
               deleting: set[str], healthy: set[str]) -> None:
        """A metering tick every METER_INTERVAL, and right before nodes are deleted on purpose
        (their counters' last reading); a failure is logged, never fatal to the pass."""
        now = self.clock()
        final = any(n.netns in deleting for n in want.metered)
        if not final and now - self._last_meter < metering.METER_INTERVAL:
            return
        self._last_meter = now
        present = {n.instance_id for n in want.metered if n.netns in observed.nodes}
        try:
            sick = frozenset(n.instance_id for n in want.metered
                             if n.role == "backend" and n.netns not in healthy)
            self.scaler.observe(metering.tick(self.ctx, want.metered, present, self.pool.map,
                                              sick))
        except Exception:
            log.exception("metering tick failed")

    def _poll_management(self, want: desired_mod.Desired, observed: ObservedState,
                         notes: list[tuple[str, str, str]]) -> None:
        """Ask every node's agent how it is, over the management subnet, at most every
        MANAGEMENT_INTERVAL; note every change of reachability as an event."""
        now = self.clock()
        if now - self._last_management < MANAGEMENT_INTERVAL:
            return
        self._last_management = now
        seen: dict[str, dict[str, Any]] = {}
        jobs = [(agent, node) for agent in want.agents if agent.key in observed.processes
                for node in agent.nodes if node.netns in observed.nodes]

        def ask(job: tuple[management.Agent, management.AgentNode]) -> dict[str, Any]:
            return management.poll(self.ctx.dataplane, self.ctx.home, job[0], job[1])

        for (_agent, node), state in zip(jobs, self.pool.map(ask, jobs), strict=True):
            seen[node.name] = state
            before = self.ctx.management.get(node.name)
            if before is None or before["reachable"] != state["reachable"]:
                kind = "management.reachable" if state["reachable"] else \
                    "management.unreachable"
                notes.append((kind, node.name, f"agent at {node.mgmt_ip}: {state['detail']}"))
        self.ctx.management = seen

    def _replace(self, session: Session, r: healing.Replacement) -> bool:
        app = session.get(Appliance, r.appliance_id)
        node = session.get(Instance, r.instance_id)
        if app is None or node is None or app.status == "deleting" or node.status == "deleting":
            return False
        try:
            with session.begin_nested():
                appliances.replace_backend(self.ctx, session, app, node, r.reason)
        except FacadeError as exc:  # e.g. the backend subnet is full: keep the old node
            self.ctx.event(session, "appliance.replace_failed", app.name,
                           f"cannot replace {node.name}: {exc.message}")
            return False
        return True

    def _write_peers(self, want: desired_mod.Desired) -> None:
        """The files backends re-read: their peers, and the appliance they call (chains)."""
        for app in want.appliances:
            for path, text in ((app.peers_file, json.dumps({"peers": list(app.peers)})),
                               (app.upstream_file, json.dumps(app.upstream))):
                try:
                    files.update(path, text)
                except OSError as exc:
                    log.warning("cannot write %s: %s", path, exc)

    def _probe_endpoint(self, app: desired_mod.ApplianceTarget) -> tuple[bool, str]:
        dp = self.ctx.dataplane
        assert app.endpoint is not None
        if app.health_path:
            res = dp.http_request(app.router_netns, app.endpoint, app.port, app.health_path,
                                  timeout=1.0)
        else:
            res = dp.tcp_probe(app.router_netns, app.endpoint, app.port, timeout=1.0)
        return res.ok, res.detail

    def _record(self, want: desired_mod.Desired, state: DesiredState, observed: ObservedState,
                failures: dict[str, str], notes: list[tuple[str, str, str]],
                replacements: list[healing.Replacement]) -> bool:
        """Write statuses and finalise deletions; True while anything is still converging."""
        ctx = self.ctx
        converging = False
        probes: dict[int, tuple[bool, str]] = {}
        for app in want.appliances:
            if app.status == "deleting" or app.frontend_netns is None:
                continue
            fe = observed.nodes.get(app.frontend_netns)
            rotation = set(fe.backends or ()) if fe else set()
            wanted = {b.ip for b in app.backends}
            leaving = [n for n in app.leaving if n in observed.nodes]
            if fe is None:
                probes[app.id] = (False, "front-end not created yet")
            elif rotation != wanted or leaving:
                probes[app.id] = (False, f"{len(rotation & wanted)}/{len(wanted)} backends in "
                                  "rotation" + (f", {len(leaving)} leaving" if leaving else ""))
            else:
                probes[app.id] = self._probe_endpoint(app)
        with ctx.write() as session:
            for kind, obj, message in notes:
                ctx.event(session, kind, obj, message)
            for r in replacements:
                converging |= self._replace(session, r)
            for inst in session.scalars(select(Instance)):
                netns = names.node_netns(inst.id, inst.name)
                if inst.status == "deleting":
                    if netns not in observed.nodes:
                        session.delete(inst)
                    else:
                        converging = True
                elif netns in failures:
                    inst.status = "failed"
                elif netns in observed.nodes and inst.status != "active":
                    inst.status = "active"
                elif netns not in observed.nodes:
                    converging = True
            session.flush()
            for app_row in session.scalars(select(Appliance)):
                if app_row.status == "deleting":
                    if not app_row.nodes:
                        ctx.event(session, "appliance.deleted", app_row.name,
                                  "appliance and all its nodes removed")
                        shutil.rmtree(desired_mod.appliance_dir(ctx.home, app_row.id),
                                      ignore_errors=True)
                        session.delete(app_row)
                    else:
                        converging = True
                    continue
                ok, detail = probes.get(app_row.id, (False, "waiting for the next pass"))
                if ok and app_row.status != "ready":
                    app_row.status, app_row.status_detail = "ready", f"endpoint answered: {detail}"
                    app_row.ready_at = dt.datetime.now(dt.UTC)
                    ctx.event(session, "appliance.ready", app_row.name,
                              f"a request through the endpoint succeeded ({detail})")
                elif not ok:
                    converging = True
                    if app_row.status == "ready":
                        app_row.status = "degraded"
                        ctx.event(session, "appliance.degraded", app_row.name, detail)
                    app_row.status_detail = detail
            # after the statuses above: a resize marks its appliance "scaling" for the next pass
            self.scaler.review(ctx, session)
        return converging
