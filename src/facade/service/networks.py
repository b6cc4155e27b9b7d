"""Networks (VPCs) and their subnets: creation with the CIDR rules of domain.ipam, listing
with address usage, deletion only when nothing uses them. The kernel follows via the controller."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from facade.domain import commands, ipam, names
from facade.domain.errors import Conflict, InUse, Invalid, NotFound
from facade.domain.paging import FIRST, PageRequest
from facade.readmodels.networks import NetworkPage, NetworkRead, SubnetPage, SubnetRead
from facade.service import gateways, lookup, paging, public_ips, quotas, rules, views
from facade.service.context import Caller, Context
from facade.store.models import (
    Appliance,
    Interface,
    Network,
    PublicIp,
    Service,
    ServiceSubnet,
    Subnet,
    Vpn,
)


def used_counts(session: Session, subnet_ids: list[int] | None = None) -> dict[int, int]:
    """Addresses in use per subnet id (of these subnets only, when given)."""
    query = select(Interface.subnet_id, func.count()).group_by(Interface.subnet_id)
    if subnet_ids is not None:
        query = query.where(Interface.subnet_id.in_(subnet_ids))
    return {sid: n for sid, n in session.execute(query)}


def add_subnet(session: Session, net: Network, name: str, cidr: str, *, where: str,
               name_where: str | None = None, internet: bool = True,
               sites: bool = True) -> Subnet:
    """`where` names the subnet's CIDR in the request, `name_where` its name (default: where)."""
    name_where = name_where or where
    names.check_name(name, kind="subnet", where=name_where)
    sub = ipam.parse_cidr(cidr, where=where)
    ipam.check_subnet_in_network(sub, ipam.parse_cidr(net.cidr, where="network"), where=where)
    if any(s.name == name for s in net.subnets):
        raise Conflict(f"subnet {net.name}/{name} already exists", where=name_where)
    ipam.check_no_overlap(sub, {s.name: s.cidr for s in net.subnets}, where=where)
    quotas.check(session, net.account, "subnets", where=name_where)
    row = Subnet(network=net, name=name, cidr=str(sub), internet=internet, sites=sites)
    session.add(row)
    return row


def new_network(ctx: Context, session: Session, caller: Caller, name: str, account: str | None,
                cidr: str, subnets: list[dict[str, Any]] | None = None, *,
                public_gateway: bool = False, outbound_nat: bool = False) -> Network:
    cmd = commands.new_network(name=name, cidr=cidr, subnets=subnets or [])
    owner = lookup.acting_account(session, caller, account)
    if lookup.taken(session, Network.name, Network.account_id, owner.id, name):
        raise Conflict(f"network {name!r} already exists", where="name")
    quotas.check(session, owner, "networks", where="name")
    quotas.check(session, owner, "subnets", len(subnets or []), where="subnets")
    net = Network(name=name, account=owner, cidr=cmd.cidr)
    session.add(net)
    for i, sub in enumerate(subnets or []):
        add_subnet(session, net, sub.get("name", ""), sub.get("cidr", ""),
                   where=f"subnets[{i}]", internet=sub.get("internet", True) is not False,
                   sites=sub.get("sites", True) is not False)
    ctx.event(session, "network.created", name, f"network {name} {cmd.cidr} created",
              owner.id)
    session.flush()
    if public_gateway or outbound_nat:
        public_ips.set_gateway(ctx, session, net, public_gateway, outbound_nat)
    return net


def create_network(ctx: Context, caller: Caller, name: str, account: str | None, cidr: str,
                   subnets: list[dict[str, Any]] | None = None, *,
                   public_gateway: bool = False, outbound_nat: bool = False) -> NetworkRead:
    with ctx.write() as session:
        result = views.network(new_network(ctx, session, caller, name, account, cidr, subnets,
                                           public_gateway=public_gateway,
                                           outbound_nat=outbound_nat), {})
    ctx.converge()
    return result


def update_network(ctx: Context, caller: Caller, name: str, *, public_gateway: bool | None,
                   outbound_nat: bool | None) -> NetworkRead:
    """A network's public gateway on or off, with or without outbound NAT (what is not given
    stays as it is)."""
    with ctx.write() as session:
        net = lookup.network(session, caller, name)
        gateway = net.public_gateway if public_gateway is None else public_gateway
        outbound = (net.outbound_nat and gateway) if outbound_nat is None else outbound_nat
        public_ips.set_gateway(ctx, session, net, gateway, outbound)
        session.flush()
        result = views.network(net, used_counts(session, [s.id for s in net.subnets]))
    ctx.converge()
    return result


def create_subnet(ctx: Context, caller: Caller, network: str, name: str,
                  cidr: str, internet: bool = True, sites: bool = True) -> SubnetRead:
    with ctx.write() as session:
        net = lookup.network(session, caller, network)
        if net.kind != "private":
            raise Invalid(f"network {network} is the intermediate network; its one subnet "
                          "is all it has", where="network")
        row = add_subnet(session, net, name, cidr, where="cidr", name_where="name",
                         internet=internet, sites=sites)
        ctx.event(session, "subnet.created", f"{network}/{name}", f"subnet {row.cidr} created",
                  net.account_id)
        session.flush()
        result = views.subnet(row, 0)
    ctx.converge()
    return result


NETWORKS = paging.by_id("networks", Network.id)
SUBNETS = paging.by_id("subnets", Subnet.id)


def list_networks(ctx: Context, caller: Caller, page: PageRequest = FIRST, *,
                  account: str | None = None) -> NetworkPage:
    """A page of the networks the caller sees (`account`'s only, when given), each with its
    subnets and their usage."""
    owned = paging.owned_by(Network.account_id, account)
    with ctx.read() as session:
        query = (select(Network).where(Network.kind != "site",
                                       *paging.seen_by(caller, Network.account_id), *owned)
                 .options(joinedload(Network.account), selectinload(Network.subnets)))
        rows, cursor = paging.objects(session, query, NETWORKS, page, lambda r: (r.id,))
        used = used_counts(session, [s.id for r in rows for s in r.subnets])
        return NetworkPage.of([views.network(r, used) for r in rows], cursor)


def get_network(ctx: Context, caller: Caller, name: str) -> NetworkRead:
    with ctx.read() as session:
        return views.network(lookup.network(session, caller, name), used_counts(session))


def list_subnets(ctx: Context, caller: Caller, page: PageRequest = FIRST, *,
                 account: str | None = None) -> SubnetPage:
    """A page of the subnets of the networks the caller sees (`account`'s, when given)."""
    owned = paging.owned_by(Network.account_id, account)
    with ctx.read() as session:
        query = (select(Subnet).join(Network, Subnet.network_id == Network.id)
                 .where(Network.kind != "site", *paging.seen_by(caller, Network.account_id),
                        *owned)
                 .options(joinedload(Subnet.network).joinedload(Network.account)))
        rows, cursor = paging.objects(session, query, SUBNETS, page, lambda r: (r.id,))
        used = used_counts(session, [r.id for r in rows])
        return SubnetPage.of([views.subnet(r, used.get(r.id, 0)) for r in rows], cursor)


def get_subnet(ctx: Context, caller: Caller, path: str) -> SubnetRead:
    with ctx.read() as session:
        row = lookup.visible_subnet(session, caller, path)
        return views.subnet(row, used_counts(session).get(row.id, 0))


def set_internet(ctx: Context, session: Session, sub: Subnet, internet: bool) -> bool:
    """A subnet's route to the Internet on or off; True if it changed. Off is refused while an
    address there has a public address (disassociate or release it first)."""
    if sub.internet == internet:
        return False
    if not internet:
        bound = list(session.scalars(
            select(PublicIp.address).join(Interface, (Interface.instance_id
                                                      == PublicIp.instance_id)
                                          & (Interface.index == PublicIp.iface_index))
            .where(Interface.subnet_id == sub.id)))
        if bound:
            raise InUse(f"subnet {sub.path} has public addresses ({', '.join(bound)}); "
                        "disassociate or release them first", where="internet")
    sub.internet = internet
    ctx.event(session, "subnet.routes", sub.path,
              "routed to the Internet through the public gateway" if internet
              else "private: no route to the Internet",
              account=sub.network.account_id)
    return True


def set_sites(ctx: Context, session: Session, sub: Subnet, sites: bool) -> bool:
    """A subnet's route to the network's customer sites (over its channels) on or off; True
    if it changed. The routers at both ends of the network's channels follow."""
    if sub.sites == sites:
        return False
    sub.sites = sites
    ctx.event(session, "subnet.routes", sub.path,
              "routed to the network's sites through its private gateway" if sites
              else "kept off the network's sites (no route through its private gateway)",
              account=sub.network.account_id)
    return True


def update_subnet(ctx: Context, caller: Caller, path: str, *, internet: bool | None,
                  sites: bool | None = None) -> SubnetRead:
    with ctx.write() as session:
        row = lookup.visible_subnet(session, caller, path)
        if internet is not None:
            set_internet(ctx, session, row, internet)
        if sites is not None:
            set_sites(ctx, session, row, sites)
        session.flush()
        result = views.subnet(row, used_counts(session, [row.id]).get(row.id, 0))
    ctx.converge()
    return result


def _subnet_users(session: Session, sub: Subnet) -> list[str]:
    users = [f"interface of {i.instance.name}" for i in session.scalars(
        select(Interface).where(Interface.subnet_id == sub.id))]
    users += [f"service {s.name}" for s in session.scalars(select(Service).where(
        (Service.backend_subnet_id == sub.id) | (Service.management_subnet_id == sub.id)))]
    users += [f"service {s.name} (extra subnet)" for s in session.scalars(
        select(Service).join(ServiceSubnet).where(ServiceSubnet.subnet_id == sub.id))]
    users += [f"appliance {a.name}" for a in session.scalars(
        select(Appliance).where(Appliance.subnet_id == sub.id))]
    return users


def _refuse_if_used(users: list[str], what: str) -> None:
    if users:
        more = f" and {len(users) - 5} more" if len(users) > 5 else ""
        raise InUse(f"{what} is still used by {', '.join(users[:5])}{more}", where=what)


def delete_subnet(ctx: Context, caller: Caller, path: str) -> None:
    with ctx.write() as session:
        row = lookup.visible_subnet(session, caller, path)
        _refuse_if_used(_subnet_users(session, row), f"subnet {path}")
        rules.delete_for_subnet(session, row)  # its rules go with it
        session.delete(row)
        ctx.event(session, "subnet.deleted", row.path, f"subnet {row.path} deleted",
                  row.network.account_id)
    ctx.converge()


def remove_network(ctx: Context, session: Session, caller: Caller, net: Network) -> None:
    if not caller.may_see(net.account_id):
        raise NotFound(f"network {net.name!r} does not exist", where="network")
    users: list[str] = []
    for sub in net.subnets:
        users += _subnet_users(session, sub)
    if net.kind == "intermediate":
        users += [f"the public gateway of {n}" for n in session.scalars(
            select(Network.name).where(Network.gateway_ip.is_not(None)))]
    users += [f"public IP {a}" for a in session.scalars(
        select(PublicIp.address).where(PublicIp.network_id == net.id))]
    users += [f"vpn {v.name}" for v in gateways.channels(session, net.id)]
    _refuse_if_used(users, f"network {net.name}")
    for v in session.scalars(select(Vpn).where(Vpn.network_id == net.id)):
        v.network_id = None  # a deleted channel's row outlives its network (a meter reads it)
    for sub in list(net.subnets):
        rules.delete_for_subnet(session, sub)
        session.delete(sub)
    session.delete(net)
    ctx.event(session, "network.deleted", net.name, f"network {net.name} deleted",
              net.account_id)


def delete_network(ctx: Context, caller: Caller, name: str) -> None:
    with ctx.write() as session:
        remove_network(ctx, session, caller, lookup.network(session, caller, name))
    ctx.converge()
