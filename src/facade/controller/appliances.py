"""The appliance reconciler: its files, its front-end's rotation, its readiness, its end.

- The files its backends re-read (peers, the upstream it calls) are rewritten when they change.
- Its backends are registered with the health engine; the front-end's rotation becomes exactly
  the healthy ones among its live backends (a backend being deleted leaves it first: its node
  waits for that).
- `ready` only when every live backend is in the rotation, none is still leaving, a real
  request through the endpoint succeeded (from the customer network's router), and every node
  answers its provider's management agent (a signed request over the management path, from
  the management network's router: the provider can monitor and meter it from the first
  moment); `degraded` when a ready appliance stops being so; the detail says why.
- Being deleted: once its last node is gone, its row and folder go, with an event.

It runs when the appliance or one of its nodes changes, when the health engine sees a backend
change, and at the resync; while it is not ready with its rotation complete (the endpoint
still starting, say), it looks again shortly.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil

from facade.controller.runtime import SETTLE, Later, Runtime
from facade.domain import keys, names
from facade.domain.keys import Key
from facade.domain.states import ApplianceStatus
from facade.reconcile.plan import plan_rotation
from facade.service import desired, files, management
from facade.store.models import Appliance

log = logging.getLogger("facade.controller")

RECHECK = 0.2  # seconds before looking again at an appliance whose endpoint did not answer
# ... and at one whose endpoint answered but a node's agent did not know it yet (told at once)
AGENT_RECHECK = 0.05
PROBE_TIMEOUT = 1.0


def reconcile_appliance(rt: Runtime, key: Key) -> None:
    assert isinstance(key.ident, int)
    target = rt.appliance_views.get(key.ident) if rt.appliance_views is not None else None
    if target is None:
        target = _read(rt, key)
        if target is None:
            return
    _reconcile(rt, key, target)


def _read(rt: Runtime, key: Key) -> desired.ApplianceTarget | None:
    """The appliance's target, read from the store; None when there is nothing to look at
    (gone, or being deleted: its nodes are queued, or it is finished)."""
    assert isinstance(key.ident, int)
    with rt.ctx.read() as session:
        app = session.get(Appliance, key.ident)
        if app is None:
            _forget(rt, key.ident)
            return None
        if app.status == ApplianceStatus.DELETING:
            if app.nodes:
                rt.touch(keys.node(n.id) for n in app.nodes)
                _forget(rt, key.ident)
                return None
            target = None
        else:
            target = desired.appliance_target(session, rt.home, app)
    if target is None:
        _finish(rt, key.ident)
    return target


def _reconcile(rt: Runtime, key: Key, target: desired.ApplianceTarget) -> None:
    assert isinstance(key.ident, int)
    _write_files(target)
    if rt.health is not None:
        rt.health.register(target)
    dp = rt.dp
    fe = target.frontend_netns
    seen_fe = dp.observe_node(fe) if fe is not None else None
    rotation: set[str] = set()
    if seen_fe is not None and seen_fe.backends is not None:
        # a backend never checked yet (a restart) keeps its place, in or out, until it is
        healthy = tuple(b.ip for b in target.backends
                        if _verdict(rt, b.netns, b.ip in seen_fe.backends))
        done = rt.act(plan_rotation(seen_fe.netns, healthy, seen_fe))
        rotation = set(healthy) if done else set(seen_fe.backends)
    wanted = {b.ip for b in target.backends}
    leaving = [n for n in target.leaving if dp.observe_node(n) is not None]
    recheck = None  # seconds before looking again, when it can only be waited for
    if fe is None or seen_fe is None or seen_fe.backends is None:
        ok, detail = False, "front-end not created yet"
    elif (rotation != wanted or leaving) and not _serving(target, rotation & wanted):
        ok = False
        detail = f"{len(rotation & wanted)}/{len(wanted)} backends in rotation" + (
            f", {len(leaving)} leaving" if leaving else "")
    else:
        ok, detail = _probe(rt, target)
        recheck = RECHECK
        if ok and target.status != ApplianceStatus.READY:
            ok, why = _managed(rt, target)
            detail = why or detail
            recheck = AGENT_RECHECK  # its agent was told just now: it reads it every 0.1 s
    if not (ok and target.status == ApplianceStatus.READY):  # ready and still so: nothing to write
        _record(rt, key.ident, ok, detail)
    if not ok and recheck is not None:
        raise Later(recheck, f"{target.name}: {detail}")


def _serving(target: desired.ApplianceTarget, serving: set[str]) -> bool:
    """A ready appliance stays ready while as many backends as it asks for are in the
    rotation, whatever else starts or leaves beside them (a draining host's backends moved:
    service/hosts_drain.py makes the replacement first). On its way to ready, or once degraded,
    every backend counts."""
    return target.status == ApplianceStatus.READY and 0 < target.desired <= len(serving)


def _verdict(rt: Runtime, netns: str, in_rotation: bool) -> bool:
    if rt.health is None:
        return False
    verdict = rt.health.healthy(netns)
    return in_rotation if verdict is None else verdict


def _forget(rt: Runtime, appliance_id: int) -> None:
    if rt.health is not None:
        rt.health.forget(appliance_id)


def _write_files(target: desired.ApplianceTarget) -> None:
    """The files backends re-read: their peers, and the appliance they call (chains)."""
    for path, text in ((target.peers_file, json.dumps({"peers": list(target.peers)})),
                       (target.upstream_file, json.dumps(target.upstream))):
        try:
            files.update(path, text)
        except OSError as exc:
            log.warning("cannot write %s: %s", path, exc)


def _probe(rt: Runtime, target: desired.ApplianceTarget) -> tuple[bool, str]:
    """A real request through the endpoint, as the service's check makes it. A service checked
    through its agents (servers that serve one client at a time) gets one TCP connection on
    its way to `ready` and none once there: its agents' reports stand for it."""
    assert target.endpoint is not None
    hc = target.health
    if hc.type == "http":
        assert hc.path is not None
        res = rt.dp.http_request(target.router_netns, target.endpoint, target.port, hc.path,
                                 timeout=PROBE_TIMEOUT)
        return hc.judge(res.status, res.detail)
    if hc.type == "agent" and target.status == ApplianceStatus.READY:
        return True, "every backend's agent reports its workload listening"
    res = rt.dp.tcp_probe(target.router_netns, target.endpoint, target.port,
                          timeout=PROBE_TIMEOUT)
    return res.ok, res.detail


def _managed(rt: Runtime, target: desired.ApplianceTarget) -> tuple[bool, str]:
    """Every node answers its agent over the management path, on the appliance's way to
    `ready` (its backends once checked through their agents need no second ask). An agent not
    serving a node yet is queued again (at once, unless it was within SETTLE seconds: it
    learns of a node when the node is created, and listens once the node exists)."""
    nodes = [(target.frontend_name, target.frontend_id, target.frontend_mgmt)]
    if target.health.type != "agent":
        nodes += [(b.name, b.instance_id, b.mgmt) for b in target.backends]
    # the agent knows a node by its namespace's name (management.AgentNode)
    asked = {name: (mgmt[0], names.node_netns(node_id, name), mgmt[1])
             for name, node_id, mgmt in nodes if mgmt is not None and node_id is not None}
    answers = management.ask_many(rt.dp, rt.home, list(asked.values()))  # side by side
    for (name, (network_id, _, _)), res in zip(asked.items(), answers, strict=True):
        if not res.ok:
            rt.touch_throttled([keys.agent(network_id)], SETTLE)
            return False, f"management path: {name}'s agent: {res.detail}"
    return True, ""


def _record(rt: Runtime, appliance_id: int, ok: bool, detail: str) -> None:
    ctx = rt.ctx
    with ctx.write(track=False) as session:
        row = session.get(Appliance, appliance_id)
        if row is None or row.status == ApplianceStatus.DELETING:
            return
        if ok and row.status != ApplianceStatus.READY:
            row.status, row.status_detail = ApplianceStatus.READY, f"endpoint answered: {detail}"
            row.ready_at = dt.datetime.now(dt.UTC)
            ctx.event(session, "appliance.ready", row.name,
                      f"a request through the endpoint succeeded ({detail})",
                      account=row.account_id)
        elif not ok:
            if row.status == ApplianceStatus.READY:
                row.status = ApplianceStatus.DEGRADED
                ctx.event(session, "appliance.degraded", row.name, detail, row.account_id)
            if row.status_detail != detail:
                row.status_detail = detail


def _finish(rt: Runtime, appliance_id: int) -> None:
    ctx = rt.ctx
    with ctx.write(track=False) as session:
        row = session.get(Appliance, appliance_id)
        if row is None or row.nodes:
            return
        ctx.event(session, "appliance.deleted", row.name, "appliance and all its nodes removed",
                  row.account_id)
        session.delete(row)
    shutil.rmtree(desired.appliance_dir(ctx.home, appliance_id), ignore_errors=True)
    _forget(rt, appliance_id)
