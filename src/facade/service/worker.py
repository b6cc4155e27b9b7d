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
from typing import Any

from sqlalchemy import select

from facade.domain import names
from facade.domain.specs import DesiredState, ObservedState
from facade.reconcile.apply import apply
from facade.reconcile.plan import Action, plan
from facade.service import desired as desired_mod
from facade.service import files, management
from facade.service.context import Context
from facade.store.models import Appliance, Instance

log = logging.getLogger("facade.worker")

IDLE_INTERVAL = 1.0  # seconds between passes when everything is converged (health checks)
BUSY_INTERVAL = 0.02  # between passes while something is still converging
MANAGEMENT_INTERVAL = 1.0  # seconds between two rounds of questions to the agents


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
        state = DesiredState(subnets=want.state.subnets, nodes=want.state.nodes,
                             processes=want.state.processes,
                             backends={fe: tuple(ip for ip in ips if ip in healthy)
                                       for fe, ips in want.state.backends.items()},
                             port_rules=want.state.port_rules)
        self._write_peers(want)
        for agent in want.agents:
            management.write_config(self.ctx.home, agent)
        the_plan = plan(state, observed)
        self.last_plan = [str(a) for a in the_plan.actions]
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
        converging = self._record(want, state, observed, failures, notes)
        # failures retry at the idle pace, not in a tight loop
        return converging and not result.failed

    def _healthy_backends(self, want: desired_mod.Desired, observed: ObservedState) -> set[str]:
        healthy: set[str] = set()
        for app in want.appliances:
            for b in app.backends:
                if b.netns not in observed.nodes:
                    continue
                if app.health_path:
                    res = self.ctx.dataplane.http_request(b.netns, b.ip, app.port,
                                                          app.health_path, timeout=0.5)
                else:
                    res = self.ctx.dataplane.tcp_probe(b.netns, b.ip, app.port, timeout=0.5)
                if res.ok:
                    healthy.add(b.ip)
        return healthy

    def _poll_management(self, want: desired_mod.Desired, observed: ObservedState,
                         notes: list[tuple[str, str, str]]) -> None:
        """Ask every node's agent how it is, over the management subnet, at most every
        MANAGEMENT_INTERVAL; note every change of reachability as an event."""
        now = self.clock()
        if now - self._last_management < MANAGEMENT_INTERVAL:
            return
        self._last_management = now
        seen: dict[str, dict[str, Any]] = {}
        for agent in want.agents:
            if agent.key not in observed.processes:
                continue  # not started yet: nothing to ask
            for node in agent.nodes:
                if node.netns not in observed.nodes:
                    continue
                seen[node.name] = state = management.poll(self.ctx.dataplane, self.ctx.home,
                                                          agent, node)
                before = self.ctx.management.get(node.name)
                if before is None or before["reachable"] != state["reachable"]:
                    kind = "management.reachable" if state["reachable"] else \
                        "management.unreachable"
                    notes.append((kind, node.name, f"agent at {node.mgmt_ip}: {state['detail']}"))
        self.ctx.management = seen

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
                failures: dict[str, str], notes: list[tuple[str, str, str]]) -> bool:
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
        return converging
