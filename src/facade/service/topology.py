"""The topology a person (or the dashboard) reads: networks (with their public gateway), their
subnets (with what makes one provider internal and the accounts granted interfaces in it), and
every node with its owner, its interface on each subnet and the public address translated to
it, routers included; the caller's external hosts, its customer sites (networks of kind
"site", with their hosts) and the private channels between them and its networks
(docs/edge.md); and the appliances with what each uses
and what uses it (chains, docs/composition.md), as far as the caller may see them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from facade.domain import names
from facade.domain.ipam import SubnetRange
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.readmodels.topology import (
    TopologyApplianceRead,
    TopologyChannelRead,
    TopologyNetworkRead,
    TopologyNodeRead,
    TopologyRead,
    TopologySubnetRead,
)
from facade.service import chains, gateways, views
from facade.service.context import Caller, Context
from facade.store.models import (
    Appliance,
    Instance,
    Interface,
    LoadBalancer,
    Network,
    PublicIp,
    Service,
    Subnet,
    SubnetGrant,
)

# what each row below reads, loaded with it: a constant number of queries whatever the number
# of nodes (the console draws this document; 100 appliances took 850 queries lazily)
_IFACE = (joinedload(Interface.instance).joinedload(Instance.account),
          joinedload(Interface.instance).joinedload(Instance.appliance),
          joinedload(Interface.instance).joinedload(Instance.host),
          joinedload(Interface.subnet).joinedload(Subnet.network))
_APP = (joinedload(Appliance.account), joinedload(Appliance.subnet).joinedload(Subnet.network),
        joinedload(Appliance.service).joinedload(Service.account),
        joinedload(Appliance.service).joinedload(Service.backend_subnet),
        joinedload(Appliance.service).selectinload(Service.extra_subnets),
        selectinload(Appliance.nodes).selectinload(Instance.interfaces))


def topology(ctx: Context, caller: Caller) -> TopologyRead:
    with ctx.read() as session:
        public = {(row.instance_id, row.iface_index): row.address
                  for row in session.scalars(select(PublicIp))}
        by_subnet: dict[int, list[TopologyNodeRead]] = {}
        for iface in session.scalars(select(Interface).join(Instance).order_by(Interface.id)
                                     .options(*_IFACE)):
            inst = iface.instance
            if not caller.may_see(inst.account_id, iface.subnet.network.account_id):
                continue
            by_subnet.setdefault(iface.subnet_id, []).append(TopologyNodeRead(
                name=inst.name, account=inst.account.name, role=inst.role,
                appliance=inst.appliance.name if inst.appliance else None,
                netns=names.node_netns(inst.id, inst.name), status=NodeStatus(inst.status),
                interface=names.inner_ifname(iface.index), ip=iface.ip,
                public_ip=public.get((inst.id, iface.index)), host=views.host_of(inst)))
        grants: dict[int, list[str]] = {}  # shown with the network: to its owner and operator
        for grant in session.scalars(select(SubnetGrant).order_by(SubnetGrant.id)
                                     .options(joinedload(SubnetGrant.account))):
            grants.setdefault(grant.subnet_id, []).append(grant.account.name)
        internal = _internal(session)
        networks = []
        for net in session.scalars(select(Network).order_by(Network.id).options(
                joinedload(Network.account), selectinload(Network.subnets))):
            if not caller.may_see(net.account_id):
                continue
            subnets = []
            for sub in net.subnets:
                rng = SubnetRange.of(sub.cidr)
                subnets.append(TopologySubnetRead(
                    name=sub.name, cidr=sub.cidr, gateway=str(rng.gateway),
                    bridge=names.bridge(sub.id), internal=internal.get(sub.id, []),
                    granted_to=grants.get(sub.id, []), nodes=by_subnet.get(sub.id, [])))
            networks.append(TopologyNetworkRead(
                name=net.name, account=net.account.name, cidr=net.cidr,
                router=names.router_netns(net.id), kind=net.kind, gateway_ip=net.gateway_ip,
                outbound_nat=net.outbound_nat, public_gateway=net.public_gateway,
                vpns=_channels(session, net), subnets=subnets))
        # the caller's external hosts, wherever it cannot see the intermediate network itself
        externals = [n for net in session.scalars(select(Network)
                                                  .where(Network.kind == "intermediate"))
                     if not caller.may_see(net.account_id)
                     for sub in net.subnets for n in by_subnet.get(sub.id, [])]
        return TopologyRead(networks=networks, externals=externals,
                            appliances=_appliances(session, caller))


def _channels(session: Session, net: Network) -> list[TopologyChannelRead]:
    """A network's (or a site's) private channels, each with the other end."""
    out = []
    for v in gateways.channels(session, net.id):
        peer = v.site if v.network_id == net.id else v.network
        if peer is not None:
            out.append(TopologyChannelRead(name=v.name, peer=peer.name, peer_kind=peer.kind,
                                           peer_cidr=peer.cidr, engine="wireguard"))
    return out


def _internal(session: Session) -> dict[int, list[str]]:
    """subnet id -> why it is provider internal (the router does not route into or out of it,
    docs/composition.md, "Placement"): the services and load-balancer offers using it as their
    backend or management subnet. They belong to the subnet's owner, who alone sees the
    network (and the operator)."""
    out: dict[int, list[str]] = {}
    for svc in session.scalars(select(Service).order_by(Service.id)):
        out.setdefault(svc.backend_subnet_id, []).append(f"backend of service {svc.name}")
        out.setdefault(svc.management_subnet_id, []).append(f"management of service {svc.name}")
    for lb in session.scalars(select(LoadBalancer).order_by(LoadBalancer.id)):
        out.setdefault(lb.management_subnet_id, []).append(
            f"management of load-balancer offer {lb.name}")
    return out


def _appliances(session: Session, caller: Caller) -> list[TopologyApplianceRead]:
    """Every appliance the caller may see, with the same visibility as GET /v1/appliances:
    backends, upstream and `uses` for its provider; `used_by` for the users' provider."""
    out = []
    apps = [app for app in session.scalars(select(Appliance).order_by(Appliance.id)
                                           .options(*_APP))
            if caller.may_see(app.account_id, app.service.account_id)]
    ups = chains.upstreams_of(session, {a.service for a in apps
                                        if caller.may_see(a.service.account_id)})
    users = chains.users_of_many(session, apps)
    for app in apps:
        provider = caller.may_see(app.service.account_id)
        up = ups[app.service.id] if provider else None
        out.append(TopologyApplianceRead(
            name=app.name, account=app.account.name, service=app.service.name,
            provider=app.service.account.name, subnet=app.subnet.path,
            status=ApplianceStatus(app.status), endpoint=chains.endpoint(app),
            backends=[n.name for n in app.nodes if n.role == NodeRole.BACKEND
                      and n.status != NodeStatus.DELETING] if provider else [],
            backend_subnet=app.service.backend_subnet.path if provider else None,
            extra_subnets=[e.subnet.path for e in app.service.extra_subnets]
            if provider else [],
            upstream=app.service.upstream if provider else None,
            uses=[up.name] if up is not None else [],
            used_by=chains.visible(caller, users[app.id])))
    return out
