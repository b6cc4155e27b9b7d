"""What a write touched, as the controller's keys (domain.keys): its work queue is fed by this.

A write transaction (Context.write) records the rows it adds, changes and deletes
(`track`, an after-flush hook on its session: new rows have their ids by then); once it has committed, `keys_of` turns them into
the keys of the kernel-facing objects they concern, reading what it needs in a fresh session:

| row | keys |
|---|---|
| network | its router and its agent |
| subnet | its segment, its network's router, the security rules |
| instance (any node) | its node, its appliance, its management network's agent; a customer instance the security rules |
| interface | its instance's node |
| appliance | the appliance and its nodes; the appliances that call it (chains) |
| service, its extra subnets | its appliances, their nodes and agents; the routers of its backend and management subnets |
| load-balancer offer | the router of its management subnet |
| security rule | the security rules |
| public IP | the routers (public gateways) of the networks it leaves and joins; the Internet core |
| network | (besides) the Internet core, whose routes name public gateways; the routers at the other ends of its (or its site's) channels |
| subnet | (besides) the routers of the sites its network has channels to (their routes follow) |
| vpn | the routers of its network and of its site |

Rows the controller writes itself (statuses, finished deletions) are written untracked: its
bookkeeping never feeds its own queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from facade.domain import keys
from facade.domain.keys import Key
from facade.domain.states import NodeRole
from facade.store.models import (
    Appliance,
    Instance,
    Interface,
    LoadBalancer,
    Network,
    PublicIp,
    SecurityRule,
    Service,
    ServiceSubnet,
    Subnet,
    Vpn,
)


@dataclass
class Touched:
    """Rows a transaction touched: (model name, id) plus what must be known after a delete."""

    rows: set[tuple[str, int | str]] = field(default_factory=set)
    keys: set[Key] = field(default_factory=set)  # known at once (a deleted row's)


def _note(touched: Touched, obj: Any) -> None:
    if isinstance(obj, Network):
        touched.rows |= {("network", obj.id), ("edge", 0), ("peers", obj.id)}
    elif isinstance(obj, Vpn):
        for attr in ("network_id", "site_id"):
            history = getattr(inspect(obj).attrs, attr).history
            touched.keys |= {keys.router(i) for i in (*history.added, *history.unchanged,
                                                      *history.deleted) if i is not None}
    elif isinstance(obj, PublicIp):
        touched.rows.add(("edge", 0))
        # the gateway it leaves (a remap, a disassociation) as well as the one it joins
        history = inspect(obj).attrs.network_id.history
        for net_id in (*history.added, *history.unchanged, *history.deleted):
            if net_id is not None:
                touched.keys.add(keys.router(net_id))
    elif isinstance(obj, Subnet):
        touched.rows.add(("subnet", obj.id))
        touched.keys |= {keys.subnet(obj.id), keys.router(obj.network_id), keys.RULES}
        touched.rows.add(("peers", obj.network_id))
    elif isinstance(obj, Instance):
        touched.rows.add(("instance", obj.id))
        touched.keys.add(keys.node(obj.id))
        if obj.appliance_id is not None:
            touched.keys.add(keys.appliance(obj.appliance_id))
    elif isinstance(obj, Interface):
        touched.keys.add(keys.node(obj.instance_id))
        touched.rows.add(("instance", obj.instance_id))
    elif isinstance(obj, Appliance):
        touched.rows |= {("appliance", obj.id), ("called", obj.name)}
        touched.keys.add(keys.appliance(obj.id))
    elif isinstance(obj, Service):
        touched.rows |= {("service", obj.id), ("internal", obj.backend_subnet_id),
                         ("internal", obj.management_subnet_id)}
    elif isinstance(obj, LoadBalancer):
        touched.rows.add(("internal", obj.management_subnet_id))
    elif isinstance(obj, ServiceSubnet):
        touched.rows.add(("service", obj.service_id))
    elif isinstance(obj, SecurityRule):
        touched.keys.add(keys.RULES)


def track(session: Session) -> Touched:
    """Record what `session` adds, changes or deletes from now on, its commit's own flush
    included (the listener goes with the session)."""
    touched = Touched()

    def after_flush(sess: Session, _context: Any) -> None:
        for obj in (*sess.new, *sess.dirty, *sess.deleted):
            _note(touched, obj)

    event.listen(session, "after_flush", after_flush)
    return touched


def _agent_network(inst: Instance) -> int | None:
    from facade.service.desired import management_network

    return management_network(inst)


def keys_of(session: Session, touched: Touched) -> set[Key]:
    """The keys of everything the touched rows concern (read after the commit)."""
    out = set(touched.keys)
    for kind, ident in touched.rows:
        if kind == "called":
            # the appliances whose backends call this one: their upstream file follows it
            for app_id in session.scalars(
                    select(Appliance.id).join(Service, Service.id == Appliance.service_id)
                    .where((Service.upstream == ident)  # NAME or ACCOUNT/NAME
                           | Service.upstream.endswith(f"/{ident}"))):
                out.add(keys.appliance(app_id))
            continue
        if kind == "edge":
            core = session.scalar(select(Network.id).where(Network.kind == "intermediate"))
            if core is not None:
                out.add(keys.router(core))
            continue
        assert isinstance(ident, int)
        if kind == "peers":  # the other ends of a network's (or a site's) channels
            for v in session.scalars(select(Vpn).where(
                    Vpn.deleted_at.is_(None), (Vpn.network_id == ident) | (Vpn.site_id == ident))):
                out |= {keys.router(i) for i in (v.network_id, v.site_id) if i is not None}
        elif kind == "network":
            out |= {keys.router(ident), keys.agent(ident)}
        elif kind in ("subnet", "internal"):
            # a subnet's router; for "internal": a subnet that became (or stopped being) a
            # service's or an offer's, whose router isolates it
            sub = session.get(Subnet, ident)
            if sub is not None:
                out.add(keys.router(sub.network_id))
        elif kind == "instance":
            inst = session.get(Instance, ident)
            if inst is None:
                continue
            out.add(keys.node(ident))
            if inst.appliance_id is not None:
                out.add(keys.appliance(inst.appliance_id))
            net = _agent_network(inst)
            if net is not None:
                out.add(keys.agent(net))
            if inst.role == NodeRole.INSTANCE:
                out.add(keys.RULES)
        elif kind == "appliance":
            app = session.get(Appliance, ident)
            if app is not None:
                out |= {keys.node(n.id) for n in app.nodes}
        elif kind == "service":
            for app in session.scalars(select(Appliance).where(Appliance.service_id == ident)):
                out.add(keys.appliance(app.id))
                out |= {keys.node(n.id) for n in app.nodes}
                # its agents report the workload as the service's check says
                out |= {keys.agent(net) for n in app.nodes
                        if (net := _agent_network(n)) is not None}
    return out
