"""Public addresses (docs/edge.md): public gateways on networks, standard public IPs (an instance's, made and released with it) and customer public IPs (allocated by an
account, associated with one of its instances, remapped in one call, released).

An address is held by its account (edge_metering.hold/let_go: billed by the hour) from its
allocation, or its instance's creation, to its release. It is translated 1:1 by the public
gateway of the network its instance's interface is in; the Internet core routes it to that gateway. Every change here is a change of those two
routers' specs (service/gateways.py), which the controller carries out (service/changes.py
queues them: the gateways of the networks the address leaves and joins, and the core).
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import edge, names
from facade.domain.edge_billing import PUBLIC_IP
from facade.domain.errors import Conflict, InUse, Invalid, NotFound
from facade.domain.paging import FIRST, PageRequest
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.readmodels.edge import Association, PublicIpPage, PublicIpRead
from facade.service import (
    edge_metering,
    gateways,
    internet,
    ip_pools,
    lookup,
    paging,
    private_api,
    quotas,
)
from facade.service.context import Caller, Context
from facade.store.models import Appliance, Instance, Network, PublicIp, Vpn

# -- public gateways -----------------------------------------------------------------------------


def set_gateway(ctx: Context, session: Session, net: Network, public_gateway: bool,
                outbound_nat: bool) -> None:
    """Make (or stop) `net`'s router a public gateway, with or without outbound NAT."""
    if outbound_nat and not public_gateway:
        raise Invalid("outbound_nat needs public_gateway: instances reach out through the "
                      "network's public gateway", where="outbound_nat")
    if net.kind != "private":
        raise Invalid(f"network {net.name} is the intermediate network", where="network")
    if not public_gateway and net.public_gateway:
        bound = list(session.scalars(select(PublicIp.address)
                                     .where(PublicIp.network_id == net.id)))
        if bound:
            raise InUse(f"network {net.name}'s public gateway still translates "
                        f"{', '.join(bound)}; disassociate or release them first",
                        where="public_gateway")
    if public_gateway:
        internet.give_leg(ctx, session, net)
    elif not gateways.channels(session, net.id):  # a private gateway keeps the leg
        net.gateway_ip = None
    if (net.public_gateway, net.outbound_nat) != (public_gateway, outbound_nat):
        net.public_gateway, net.outbound_nat = public_gateway, outbound_nat
        ctx.event(session, "network.gateway", net.name,
                  f"public gateway at {net.gateway_ip}" + (" with outbound NAT"
                                                          if outbound_nat else "")
                  if public_gateway else "no public gateway",
                  account=net.account_id)


# -- addresses ----------------------------------------------------------------------------------


def view(row: PublicIp) -> PublicIpRead:
    target = None
    if row.site is not None:
        target = Association(instance=None, appliance=None, interface=None,
                             site=row.site.name, private_ip=row.site_address)
    elif row.instance is not None and row.iface_index is not None:
        iface = next((i for i in row.instance.interfaces if i.index == row.iface_index), None)
        app = row.instance.appliance
        target = Association(instance=None if app is not None else row.instance.name,
                             appliance=app.name if app is not None else None,
                             interface=names.inner_ifname(row.iface_index),
                             private_ip=iface.ip if iface is not None else None)
    return PublicIpRead(address=row.address, account=row.account.name,
                        kind="standard" if row.standard else "customer", associated=target)


def _target(session: Session, inst: Instance, iface: str, *, where: str) -> tuple[int, Network]:
    """The interface index of `iface` on `inst` (an instance, or an appliance's front-end: its
    endpoint) and the network whose gateway would translate it; 409 when that network has no
    public gateway."""
    if inst.role not in (NodeRole.INSTANCE, NodeRole.FRONTEND):
        raise Invalid(f"{inst.name} is a {inst.role} node, not an instance", where=where)
    if inst.status == NodeStatus.DELETING:
        raise Conflict(f"instance {inst.name} is being deleted", where=where)
    index = names.iface_index(iface, where="iface")
    found = next((i for i in inst.interfaces if i.index == index), None)
    if found is None:
        raise Invalid(f"instance {inst.name} has no interface {iface}", where="iface")
    net = found.subnet.network
    if not found.subnet.internet:
        raise Conflict(f"subnet {found.subnet.path} is private (no route to the Internet); "
                       f"{inst.name}/{iface} cannot have a public address", where=where)
    if not net.public_gateway:
        raise Conflict(f"network {net.name} has no public gateway (facade network update "
                       f"{net.name} --public-gateway)", where=where)
    return index, net


def bound_to(session: Session, inst: Instance, index: int) -> PublicIp | None:
    """The public address translated to a node's interface, if any."""
    return session.scalar(select(PublicIp).where(PublicIp.instance_id == inst.id,
                                                 PublicIp.iface_index == index))


def add_standard(ctx: Context, session: Session, inst: Instance) -> str:
    """An instance's standard public address (its eth0's), made with it."""
    index, net = _target(session, inst, "eth0", where="public_ip")
    address, pool = ip_pools.take(session)
    row = PublicIp(address=address, pool=pool, account_id=inst.account_id, standard=True,
                   instance_id=inst.id, iface_index=index, network_id=net.id)
    session.add(row)
    session.flush()
    # held (and billed by the hour, as a cloud bills every public IPv4 address) while it is
    # the instance's: docs/billing.md, "The edge"
    edge_metering.hold(session, PUBLIC_IP, row.id, address, inst.account.name, "standard")
    ctx.event(session, "public-ip.associated", address,
              f"standard public address of {inst.name}/eth0",
              account=inst.account_id)
    return address


def release_for_instance(ctx: Context, session: Session, inst: Instance) -> None:
    """An instance being deleted: its standard address goes, its customer addresses stay the
    account's, unassociated."""
    for row in session.scalars(select(PublicIp).where(PublicIp.instance_id == inst.id)):
        if row.standard:
            edge_metering.let_go(session, PUBLIC_IP, row.id)
            session.delete(row)
            ctx.event(session, "public-ip.released", row.address,
                      f"standard public address of {inst.name} released with it",
                      account=row.account_id)
        else:
            row.instance_id = row.iface_index = row.network_id = None
            ctx.event(session, "public-ip.disassociated", row.address,
                      f"{inst.name} is being deleted",
                      account=row.account_id)


def _lookup(session: Session, caller: Caller, address: str) -> PublicIp:
    text = edge.check_public(address)
    row = session.scalar(select(PublicIp).where(PublicIp.address == text))
    if row is None or not caller.may_see(row.account_id):
        raise NotFound(f"public IP {text} does not exist", where="address")
    return row


def new_address(ctx: Context, session: Session, caller: Caller, account: str | None
                ) -> PublicIp:
    """A customer address allocated to `account` (the caller's by default)."""
    owner = lookup.acting_account(session, caller, account)
    quotas.check(session, owner, "public_ips", where="account")
    address, pool = ip_pools.take(session)
    row = PublicIp(address=address, pool=pool, account=owner, standard=False)
    session.add(row)
    ctx.event(session, "public-ip.allocated", address, f"allocated to {owner.name}",
              owner.id)
    session.flush()
    edge_metering.hold(session, PUBLIC_IP, row.id, address, owner.name, "customer")
    return row


def allocate(ctx: Context, caller: Caller, account: str | None) -> PublicIpRead:
    with ctx.write() as session:
        return view(new_address(ctx, session, caller, account))


def target_of(session: Session, caller: Caller, account_id: int, instance: str | None,
              appliance: str | None, iface: str = "eth0") -> tuple[Instance, int, Network, str]:
    """What an address of `account_id` would be associated with: (node, interface index,
    the network whose gateway translates it, how to name it); 404 for what the account does
    not own, 409 where no public gateway is."""
    if (instance is None) == (appliance is None):
        raise Invalid("give an instance or an appliance to associate the address with",
                      where="instance")
    if appliance is not None:
        app = session.scalar(select(Appliance).where(Appliance.name == appliance,
                                                     Appliance.account_id == account_id))
        if app is None or not caller.may_see(app.account_id):
            raise NotFound(f"appliance {appliance!r} does not exist", where="appliance")
        fe = next((n for n in app.nodes if n.role == NodeRole.FRONTEND), None)
        if app.status == ApplianceStatus.DELETING or fe is None:
            raise Conflict(f"appliance {appliance} is {app.status}; it has no endpoint to "
                           "associate", where="appliance")
        private_api.check_no_public_path(app, where="appliance")
        index, net = _target(session, fe, "eth0", where="appliance")
        return fe, index, net, f"appliance {appliance}"
    found = session.scalar(select(Instance).where(Instance.name == instance,
                                                  Instance.role == NodeRole.INSTANCE,
                                                  Instance.account_id == account_id))
    if found is None or not caller.may_see(found.account_id):
        raise NotFound(f"instance {instance!r} does not exist", where="instance")
    index, net = _target(session, found, iface, where="instance")
    return found, index, net, f"{found.name}/{iface}"


def bind(ctx: Context, session: Session, caller: Caller, row: PublicIp, instance: str | None,
         iface: str = "eth0", appliance: str | None = None) -> None:
    """Associate `row` (a customer address) with its target; an associated one moves."""
    if row.standard:
        raise Conflict(f"{row.address} is the standard public address of "
                       f"{row.instance.name if row.instance else 'an instance'}; it cannot "
                       "be moved", where="address")
    inst, index, net, label = target_of(session, caller, row.account_id, instance, appliance,
                                        iface)
    where = "appliance" if appliance is not None else "instance"
    other = bound_to(session, inst, index)
    if other is not None and other.id != row.id:
        raise Conflict(f"{label} already has public address {other.address}", where=where)
    before = row.instance.name if row.instance is not None else (
        f"{row.site.name}/{row.site_address}" if row.site is not None else None)
    row.site_id = row.site_address = None
    row.instance_id, row.iface_index, row.network_id = inst.id, index, net.id
    ctx.event(session, "public-ip.associated", row.address,
              label + (f" (remapped from {before})" if before else ""),
              account=row.account_id)
    session.flush()
    session.refresh(row)


def bind_site(ctx: Context, session: Session, caller: Caller, row: PublicIp, site: str,
              private: str | None) -> None:
    """Associate `row` with a host of one of its account's sites: the public gateway of the
    network the site's channel joins translates it, and sends it over the channel."""
    if row.standard:
        raise Conflict(f"{row.address} is a standard public address; it cannot be moved",
                       where="address")
    place = session.scalar(select(Network).where(Network.name == site, Network.kind == "site",
                                                 Network.account_id == row.account_id))
    if place is None or not caller.may_see(
            place.account_id):
        raise NotFound(f"site {site!r} does not exist", where="site")
    if private is None:
        raise Invalid("give the address of the site's host (--address 192.168.1.10)",
                      where="site_address")
    text = edge.check_public(private, where="site_address")
    if not edge.contains(place.cidr, text) or text == str(
            ipaddress.IPv4Network(place.cidr).network_address):
        raise Invalid(f"{text} is not a host address of site {site} ({place.cidr})",
                      where="site_address")
    chan = session.scalar(select(Vpn).where(Vpn.site_id == place.id, Vpn.deleted_at.is_(None)))
    if chan is None or chan.network is None:
        raise Conflict(f"site {site} has no channel to a network (facade vpn create NAME "
                       f"--network NET --site {site})", where="site")
    net = chan.network
    if not net.public_gateway:
        raise Conflict(f"network {net.name}, which site {site}'s channel joins, has no public "
                       f"gateway (facade network update {net.name} --public-gateway)",
                       where="site")
    other = session.scalar(select(PublicIp).where(PublicIp.site_id == place.id,
                                                  PublicIp.site_address == text,
                                                  PublicIp.id != row.id))
    if other is not None:
        raise Conflict(f"{text} of site {site} already has public address {other.address}",
                       where="site_address")
    before = row.instance.name if row.instance is not None else (
        f"{row.site.name}/{row.site_address}" if row.site is not None else None)
    row.instance_id = row.iface_index = None
    row.site_id, row.site_address, row.network_id = place.id, text, net.id
    ctx.event(session, "public-ip.associated", row.address,
              f"site {site} host {text} over vpn {chan.name}"
              + (f" (remapped from {before})" if before else ""),
              account=row.account_id)
    session.flush()
    session.refresh(row)


def associate(ctx: Context, caller: Caller, address: str, instance: str | None,
              iface: str = "eth0", appliance: str | None = None, site: str | None = None,
              site_address: str | None = None) -> PublicIpRead:
    """Associate a customer address with an instance of its account, with the endpoint of
    one of its appliances, or with a host of one of its sites; an associated one moves (a
    remap): one change of the gateways concerned."""
    with ctx.write() as session:
        row = _lookup(session, caller, address)
        if site is not None:
            if instance is not None or appliance is not None:
                raise Invalid("give one of instance, appliance or site", where="site")
            bind_site(ctx, session, caller, row, site, site_address)
        else:
            bind(ctx, session, caller, row, instance, iface, appliance)
        result = view(row)
    ctx.converge()
    return result


def unbind(ctx: Context, session: Session, row: PublicIp, why: str = "disassociated") -> None:
    if row.instance_id is not None or row.site_id is not None:
        row.instance_id = row.iface_index = row.network_id = None
        row.site_id = row.site_address = None
        ctx.event(session, "public-ip.disassociated", row.address, why, row.account_id)


def drop(ctx: Context, session: Session, row: PublicIp) -> None:
    """Release an unassociated customer address."""
    edge_metering.let_go(session, PUBLIC_IP, row.id)
    session.delete(row)
    ctx.event(session, "public-ip.released", row.address, "released", row.account_id)


def disassociate(ctx: Context, caller: Caller, address: str) -> PublicIpRead:
    with ctx.write() as session:
        row = _lookup(session, caller, address)
        if row.standard:
            raise Conflict(f"{row.address} is a standard public address; it goes with its "
                           "instance", where="address")
        unbind(ctx, session, row)
        session.flush()
        session.refresh(row)
        result = view(row)
    ctx.converge()
    return result


def release(ctx: Context, caller: Caller, address: str) -> None:
    with ctx.write() as session:
        row = _lookup(session, caller, address)
        if row.standard:
            raise Conflict(f"{row.address} is a standard public address; it goes with its "
                           "instance", where="address")
        if row.instance is not None or row.site is not None:
            target = row.instance.name if row.instance is not None else \
                f"site {row.site.name if row.site else ''} host {row.site_address}"
            raise InUse(f"{row.address} is associated with {target}; disassociate "
                        "it first", where="address")
        drop(ctx, session, row)


def get(ctx: Context, caller: Caller, address: str) -> PublicIpRead:
    with ctx.read() as session:
        return view(_lookup(session, caller, address))


ORDER = paging.by_id("public-ips", PublicIp.id)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST) -> PublicIpPage:
    with ctx.read() as session:
        query = select(PublicIp).where(*paging.seen_by(caller, PublicIp.account_id))
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        return PublicIpPage.of([view(r) for r in rows], cursor)
