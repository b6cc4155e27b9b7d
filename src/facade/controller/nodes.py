"""The node reconciler: one instance, front-end or backend, with the processes living in it.

Wanted: the node made (or repaired) as its spec says, its processes running with their
commands, its status `active`. Being deleted: a backend first leaves its front-end's rotation
(the appliance's reconciler takes it out; this one waits for that), its counters are read one
last time (metering), its processes stop and its node goes, and once the kernel has torn its
namespace down (its key comes back until then, no worker waits for it) its row is removed and the
objects that depended on it are queued: its appliance at once, its agent at most once every
SETTLE seconds and the security rules within SETTLE seconds, once for all the nodes that went
meanwhile.

A node that is made (anew) tells whoever needs to know: its appliance (a front-end's rotation,
readiness) and the health engine (a backend's check) at once, its management agent at most
once every SETTLE seconds, once for all the nodes made meanwhile (at once for a backend checked
through its agent: it cannot pass before its agent serves it).
"""

from __future__ import annotations

import logging

from facade.controller import node_views
from facade.controller.fabric import await_teardown, require_bridges
from facade.controller.runtime import SETTLE, Failed, Later, Runtime
from facade.domain import keys
from facade.domain.keys import Key
from facade.domain.specs import ObservedProcess
from facade.domain.states import HostState, NodeRole, NodeStatus
from facade.reconcile.plan import EnsureNode, StartProcess, plan_node, plan_node_removal
from facade.service import desired, management, metering
from facade.store.models import Instance

log = logging.getLogger("facade.controller")



def reconcile_node(rt: Runtime, key: Key) -> None:
    assert isinstance(key.ident, int)
    view = rt.node_views.get(key.ident) if rt.node_views is not None else None
    if view is None or view.status == NodeStatus.DELETING:
        with rt.lock:
            view = rt.removed.get(key.ident)
        if view is None:
            with rt.ctx.read() as session:
                view = node_views.read_one(session, rt.home, key.ident)
        if view is None:
            return  # gone from the store; the kernel's leftovers are the resync's
    netns, role, status = view.netns, view.role, view.status
    spec, procs, appliance_id = view.spec, view.procs, view.appliance_id
    deleting = status == NodeStatus.DELETING
    agent_net, agent_checked = view.agent_net, view.agent_checked
    dp = rt.dp
    proc_keys = {desired.workload_key(key.ident)} if role == NodeRole.BACKEND else set()
    seen_procs = {k: dp.observe_process(k) for k in proc_keys}
    appliance = [keys.appliance(appliance_id)] if appliance_id is not None else []
    agent = [keys.agent(agent_net)] if agent_net is not None else []
    if deleting:  # whether it exists is all a deletion needs to know of it
        exists = dp.has_node(netns)
        final = None
        if exists:  # its counters are read one last time: what it served is billed
            with rt.ctx.read() as session:
                inst = session.get(Instance, key.ident)
                final = desired.metered_node(session, inst) if inst is not None else None
        entry = (agent_net, view.agent_node.name) \
            if agent_net is not None and view.agent_node is not None else None
        _delete(rt, key.ident, view, exists, seen_procs, final, appliance, agent, entry)
        return
    if agent_net is not None and view.agent_node is not None:
        # its agent's entry first: the agent serves it as soon as its namespace exists
        management.write_node(rt.home, agent_net, view.agent_node)
    seen = dp.observe_node(netns)
    assert spec is not None
    bridges = {p.bridge for p in spec.ports}
    actions = plan_node(netns, spec, seen, procs, seen_procs,
                        rt.recreated_since(netns, bridges))
    if any(isinstance(a, EnsureNode) for a in actions):
        require_bridges(rt, netns, bridges)  # only a node to (re)make needs its segments
    try:
        done = rt.act(actions)
    except Failed as exc:
        if exc.fatal:
            _set_status(rt, key.ident, NodeStatus.FAILED)
        raise
    made = any(isinstance(a, EnsureNode) for a in done)  # noted by rt.act
    if made or any(isinstance(a, StartProcess) for a in done):
        if role == NodeRole.BACKEND and rt.health is not None:
            rt.health.poke(netns)
    # (no write when it was active already: the resync looks at every node)
    if (status != NodeStatus.ACTIVE and _set_status(rt, key.ident, NodeStatus.ACTIVE)) or made:
        rt.touch([*appliance, *(agent if agent_checked else [])])
        if not agent_checked:
            rt.touch_throttled(agent, SETTLE)


def _set_status(rt: Runtime, instance_id: int, status: str) -> bool:
    """Record a node's status; True when it changed."""
    with rt.ctx.write(track=False) as session:
        row = session.get(Instance, instance_id)
        if row is None or row.status in (status, NodeStatus.DELETING):
            return False
        if status == NodeStatus.ACTIVE and row.status == NodeStatus.FAILED \
                and row.host is not None and row.host.state == HostState.LOST:
            return False  # failed with its lost host: until it is back (service/hosts_loss.py)
        row.status = status
        return True


def _delete(rt: Runtime, instance_id: int, view: node_views.NodeView, exists: bool,
            seen_procs: dict[str, ObservedProcess | None],
            final: metering.MeteredNode | None, appliance: list[Key], agent: list[Key],
            entry: tuple[int, str] | None) -> None:
    netns, backend_ip, fe_netns = view.netns, view.backend_ip, view.fe_netns
    if exists and backend_ip is not None and fe_netns is not None:
        fe = rt.dp.observe_node(fe_netns)
        if fe is not None and fe.backends and backend_ip in fe.backends:
            rt.touch(appliance)
            raise Later(0.05, f"{netns} waits to leave the rotation of {fe_netns}")
    if final is not None:
        try:  # the node's counters, one last time: what it served is billed
            metering.tick(rt.ctx, [final], {instance_id}, prune=False)
        except Exception:
            log.exception("last metering read of %s failed", netns)
    rt.act(plan_node_removal(netns, exists, seen_procs))
    with rt.lock:
        rt.removed[instance_id] = view
    await_teardown(rt, netns)  # its ports go with its namespace, a moment later
    if entry is not None:  # its agent stops serving it (it was served to the last read)
        management.remove_nodes(rt.home, entry[0], only=[entry[1]])
    with rt.ctx.write(track=False) as session:
        row = session.get(Instance, instance_id)
        if row is not None:
            session.delete(row)
    with rt.lock:
        rt.ensured.pop(netns, None)
        rt.removed.pop(instance_id, None)
    # its appliance at once (it finishes with its last node); its agent's configuration and
    # the fabric's rules together with the other nodes that go meanwhile
    rt.touch(appliance)
    rt.touch_throttled(agent, SETTLE)
    rt.touch_soon([keys.RULES], SETTLE)
