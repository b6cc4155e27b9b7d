"""Customer sites (docs/edge.md): a customer's own network outside the provider's, standing on
the intermediate network like an office with its own Internet line.

A site is a network of kind "site" with one subnet (`lan`) spanning its range; its router is
the site's gateway (a leg on the intermediate network, outbound NAT for its hosts, the site's
end of its private channel). Its hosts are instances of role "site-host" in that subnet, with
a shell (`facade exec`). A site reaches a provider network only over a channel
(service/vpns.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from facade.domain import commands, edge, names
from facade.domain.errors import Conflict, InUse, NotFound
from facade.domain.ipam import parse_ip
from facade.domain.paging import FIRST, PageRequest
from facade.domain.states import NodeRole, NodeStatus
from facade.readmodels.edge import SiteHostRef, SitePage, SiteRead
from facade.readmodels.nodes import SiteHostRead
from facade.service import gateways, instances, internet, lookup, paging, quotas, sandboxes, views
from facade.service.context import Caller, Context
from facade.store.models import Instance, Interface, Network, PublicIp, Subnet, Vpn

KIND = "site"


def find(session: Session, caller: Caller, name: str, *, where: str = "site") -> Network:
    """The caller's site of that name (another account's is the same 404 as none)."""
    lookup.check_ref(name, "site", where)
    return lookup.resolve(session, caller, select(Network).where(
        Network.name == names.split_ref(name)[1], Network.kind == KIND).order_by(Network.id),
        name, owner=lambda r: r.account_id, visible=lambda r: caller.may_see(r.account_id),
        kind="site", where=where, account_column=Network.account_id)


def new_site(ctx: Context, session: Session, caller: Caller, name: str, account: str | None,
             cidr: str) -> Network:
    cmd = commands.new_network(name=name, cidr=cidr)  # the same name and range rules
    edge.check_site_range(cmd.cidr)
    owner = lookup.acting_account(session, caller, account)
    if lookup.taken(session, Network.name, Network.account_id, owner.id, name):
        raise Conflict(f"a network or site named {name!r} already exists", where="name")
    quotas.check(session, owner, "networks", where="name")
    site = Network(name=name, account=owner, cidr=cmd.cidr, kind=KIND)
    session.add(site)
    session.add(Subnet(network=site, name=edge.SITE_LAN, cidr=cmd.cidr))
    internet.give_leg(ctx, session, site)
    ctx.event(session, "site.created", name,
              f"site {name} {cmd.cidr}, its gateway at {site.gateway_ip}",
              account=owner.id)
    session.flush()
    return site


def create(ctx: Context, caller: Caller, name: str, account: str | None,
           cidr: str) -> SiteRead:
    with ctx.write() as session:
        site_id = new_site(ctx, session, caller, name, account, cidr).id
    ctx.converge()
    with ctx.read() as session:
        return view(session, session.get_one(Network, site_id))


def view(session: Session, row: Network) -> SiteRead:
    chan = next((v for v in gateways.channels(session, row.id)), None)
    hosts: list[Instance] = list(session.scalars(select(Instance).join(Interface).where(
        Interface.subnet_id == row.subnets[0].id, Instance.role == NodeRole.SITE_HOST)
        .order_by(Instance.id))) if row.subnets else []
    return SiteRead(name=row.name, account=row.account.name, cidr=row.cidr,
                    router=names.router_netns(row.id), gateway_ip=row.gateway_ip,
                    vpn=chan.name if chan is not None else None,
                    network=chan.network.name if chan is not None and chan.network else None,
                    hosts=[SiteHostRef(name=h.name,
                                       ip=h.interfaces[0].ip if h.interfaces else None,
                                       status=h.status) for h in hosts])


def get(ctx: Context, caller: Caller, name: str) -> SiteRead:
    with ctx.read() as session:
        return view(session, find(session, caller, name))


ORDER = paging.by_id("sites", Network.id)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST) -> SitePage:
    with ctx.read() as session:
        query = (select(Network).where(Network.kind == KIND,
                                       *paging.seen_by(caller, Network.account_id))
                 .options(joinedload(Network.account), selectinload(Network.subnets)))
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        return SitePage.of([view(session, r) for r in rows], cursor)


def remove(ctx: Context, session: Session, site: Network) -> None:
    """A site with no channel, no host and no public address goes (its router with it)."""
    users = [f"vpn {v.name}" for v in gateways.channels(session, site.id)]
    users += [f"host {h}" for h in session.scalars(
        select(Instance.name).join(Interface).where(Interface.subnet_id.in_(
            [s.id for s in site.subnets])))]
    users += [f"public IP {a}" for a in session.scalars(
        select(PublicIp.address).where(PublicIp.site_id == site.id))]
    if users:
        raise InUse(f"site {site.name} is still used by {', '.join(users[:5])}", where="site")
    for v in session.scalars(select(Vpn).where(Vpn.site_id == site.id)):
        v.site_id = None  # a deleted channel's row outlives its site (a meter reads it)
    for sub in list(site.subnets):
        session.delete(sub)
    session.delete(site)
    ctx.event(session, "site.deleted", site.name, f"site {site.name} deleted",
              site.account_id)


def delete(ctx: Context, caller: Caller, name: str) -> None:
    with ctx.write() as session:
        remove(ctx, session, find(session, caller, name))
    ctx.converge()


# -- hosts ----------------------------------------------------------------------------------


def new_host(ctx: Context, session: Session, caller: Caller, site_name: str, name: str,
             ip: str | None = None) -> Instance:
    """A host of the site: the next free address of its range (or `ip`), a sandbox like an
    instance's, owned by the site's account."""
    site = find(session, caller, site_name)
    names.check_name(name, kind="host", where="name")
    if ip is not None:
        parse_ip(ip, where="ip")
    instances.check_free_name(session, site.account_id, name)
    quotas.check(session, site.account, "instances", where="name")
    inst = Instance(name=name, account=site.account, name_scope=site.account,
                    role=NodeRole.SITE_HOST, status=NodeStatus.PENDING)
    sandboxes.store(inst, {})
    session.add(inst)
    instances.add_interfaces(session, inst, [(site.subnets[0], ip, "ip")])
    ctx.event(session, "site.host-added", name,
              f"host {name} of site {site.name} at {inst.interfaces[0].ip}",
              account=site.account_id)
    return inst


def add_host(ctx: Context, caller: Caller, site: str, name: str,
             ip: str | None = None) -> SiteHostRead:
    with ctx.write() as session:
        inst_id = new_host(ctx, session, caller, site, name, ip).id
    ctx.converge()
    with ctx.read() as session:
        return host_view(session.get_one(Instance, inst_id))


def host_view(row: Instance) -> SiteHostRead:
    return SiteHostRead(**views.node_fields(row),
                        ip=row.interfaces[0].ip if row.interfaces else None,
                        site=row.interfaces[0].subnet.network.name if row.interfaces else None)


def find_host(session: Session, caller: Caller, site: Network, name: str) -> Instance:
    row = session.scalar(select(Instance).join(Interface).where(
        Instance.name == name, Instance.role == NodeRole.SITE_HOST,
        Interface.subnet_id == site.subnets[0].id))
    if row is None or not caller.may_see(row.account_id):
        raise NotFound(f"site {site.name} has no host {name!r}", where="host")
    return row


def delete_host(ctx: Context, caller: Caller, site: str, name: str) -> None:
    with ctx.write() as session:
        place = find(session, caller, site)
        row = find_host(session, caller, place, name)
        ip = row.interfaces[0].ip if row.interfaces else None
        bound = session.scalar(select(PublicIp.address).where(
            PublicIp.site_id == place.id, PublicIp.site_address == ip))
        if bound is not None:
            raise InUse(f"host {name} ({ip}) has public IP {bound}; disassociate it first",
                        where="host")
        row.status = NodeStatus.DELETING
        ctx.event(session, "site.host-deleting", name, "site host deletion requested",
                  row.name_scope_id)
    ctx.converge()
