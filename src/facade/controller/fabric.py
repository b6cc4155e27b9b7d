"""Reconcilers of the fabric: a subnet's segment, a network's router, the security rules, and
what the kernel has that nothing asks for any more (orphans found by the resync).

A segment made anew (deleted by hand, say) is noted, and the nodes and the router with a leg
in it are queued: their ports must join the new bridge. A segment is removed only once no port
is left on it (until then the driver refuses: a Retry, tried again after a backoff).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from facade.controller.runtime import Later, Runtime
from facade.domain import edge, keys, names
from facade.domain.keys import Key
from facade.reconcile.plan import (
    DeleteNode,
    DeleteSubnet,
    EnsureNode,
    EnsureSubnet,
    StopProcess,
    plan_node,
    plan_rules,
    plan_subnet,
)
from facade.service import desired, edge_metering
from facade.store.models import Interface, Network, Subnet

# seconds between two looks at whether a deleted node's namespace has gone
TEARDOWN_RECHECK = 0.05

log = logging.getLogger("facade.controller")


def reconcile_subnet(rt: Runtime, key: Key) -> None:
    assert isinstance(key.ident, int)
    with rt.ctx.read() as session:
        sub = session.get(Subnet, key.ident)
        spec = desired.subnet_spec(sub) if sub is not None else None
        network_id = sub.network_id if sub is not None else None
        users = list(session.scalars(select(Interface.instance_id)
                                     .where(Interface.subnet_id == key.ident))) \
            if sub is not None else []
    bridge = names.bridge(key.ident)
    ports = rt.dp.observe_subnet(bridge)
    if spec is None and ports:
        # the router's leg (and any node's port) goes first: their keys are queued already
        raise Later(0.05, f"{bridge} waits for its {ports} ports to go")
    started = rt.clock()
    done = rt.act(plan_subnet(bridge, spec, ports is not None))
    if any(isinstance(a, EnsureSubnet) for a in done):
        rt.note_bridge_made(bridge, started)
        rt.touch([*(keys.node(i) for i in set(users)),
                  *([keys.router(network_id)] if network_id is not None else [])])


def require_bridges(rt: Runtime, netns: str, bridges: set[str]) -> None:
    """Wait (Later) until every segment a node has a leg in exists; queue the missing ones."""
    # one lookup each: counting a segment's ports costs a dump of them (hundreds, at scale)
    missing = sorted(b for b in bridges if not rt.dp.has_subnet(b))
    if missing:
        rt.touch(keys.subnet(i) for b in missing if (i := names.bridge_id(b)) is not None)
        raise Later(0.05, f"{netns} waits for its subnets' segments {', '.join(missing)}")


def reconcile_router(rt: Runtime, key: Key) -> None:
    assert isinstance(key.ident, int)
    with rt.ctx.read() as session:
        net = session.get(Network, key.ident)
        spec = desired.router_spec(session, net) if net is not None else None
    netns = names.router_netns(key.ident)
    seen = rt.dp.observe_node(netns)
    bridges = {p.bridge for p in spec.ports} if spec is not None else set()
    if spec is not None:
        require_bridges(rt, netns, bridges)
    actions = plan_node(netns, spec, seen, (), {}, rt.recreated_since(netns, bridges))
    if actions and seen is not None and edge.GATEWAY_IFNAME in (seen.ports or ()):
        # a gateway's byte counters, read before its table changes: an address leaving it
        # takes its counters along (docs/metering.md, "The edge")
        try:
            edge_metering.last_read(rt.ctx, key.ident)
        except Exception:
            log.exception("last metering read of %s failed", netns)
    done = rt.act(actions)
    if any(isinstance(a, EnsureNode) for a in done):  # noted as made by rt.act
        rt.touch([keys.agent(key.ident)])  # the agent lives in the router's namespace
    await_teardown(rt, netns)


def reconcile_rules(rt: Runtime, key: Key) -> None:
    with rt.ctx.read() as session:
        rules = desired.port_rules(session)
        live = desired.live_ports(session) if rules else set()
    rt.act(plan_rules(rules, live, rt.dp.observe_rules()))


def kept_overlay(netns: str) -> bool:
    """A namespace of the overlay of many hosts (docs/multi-host.md): the substrate, the route
    reflector, a simulated host (`fcd-h-NAME`, where its FRR and segments live) or a node of
    the substrate's own tests (`fcd-n-NAME`). No database id names them, and they are not the
    resync's to remove: `facade cleanup` (simhosts.cleanup) does, and the host agent will."""
    return names.is_overlay_netns(netns) or names.is_overlay_node_netns(netns)


def reconcile_orphan(rt: Runtime, key: Key) -> None:
    """Remove a namespace, segment or process the store no longer explains (the resync found
    it by its name; it is checked again here)."""
    name = str(key.ident)
    if key.kind == "orphan-netns" and not kept_overlay(name):
        if rt.dp.observe_node(name) is not None:
            rt.act([DeleteNode(name, "not desired")])
        await_teardown(rt, name)
    elif key.kind == "orphan-bridge":
        if rt.dp.observe_subnet(name):
            rt.act([DeleteSubnet(name, "not desired")])
    elif key.kind == "orphan-process" and rt.dp.observe_process(name) is not None:
        rt.act([StopProcess(name, "not desired")])


def await_teardown(rt: Runtime, netns: str) -> None:
    """A deleted node's (or router's, or orphan's) ports go with its namespace a moment after
    (the kernel tears namespaces down in batches, in tens of milliseconds): its key comes back
    until they have; no worker waits meanwhile."""
    if not rt.dp.node_gone(netns):
        raise Later(TEARDOWN_RECHECK, f"{netns}: the kernel tears its namespace down")
