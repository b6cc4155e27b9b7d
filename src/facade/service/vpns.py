"""Private channels (docs/edge.md): a network's private gateway, a customer site's gateway and
a WireGuard tunnel between them across the intermediate network, with a key pair per end and
a preshared key per channel, made here and never shown.

A channel is one change of the two routers' specs (service/gateways.py: the network routes
the site's range into the tunnel, the site the network's subnets that reach sites); the
controller carries it out (service/changes.py queues both routers). A site has at most one
channel; its range may overlap neither the network's nor another site's of the same network.
Rows are kept once the channel is gone (`deleted_at`). Its owner holds it (channel-hours,
service/edge_metering.py) from the transaction that creates it to the one that deletes it;
a network, site or account goes only once its channels are gone, so that is the only end.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import edge, names, wgkeys
from facade.domain.edge_billing import VPN
from facade.domain.errors import Conflict, InUse, NotFound
from facade.domain.metering import to_ms
from facade.domain.paging import FIRST, PageRequest
from facade.domain.states import ChannelStatus
from facade.readmodels.edge import VpnEnds, VpnPage, VpnRead
from facade.service import edge_metering, gateways, internet, lookup, paging, sites
from facade.service.context import Caller, Context
from facade.store.models import PublicIp, Vpn


def _key() -> str:
    return wgkeys.private_key(os.urandom(wgkeys.KEY_BYTES))


def _live(session: Session, account_id: int, name: str) -> Vpn | None:
    """The account's live channel of that name (names are unique per account among live
    channels)."""
    return session.scalar(select(Vpn).where(Vpn.name == name, Vpn.account_id == account_id,
                                            Vpn.deleted_at.is_(None)))


def find(session: Session, caller: Caller, name: str) -> Vpn:
    """A live channel by NAME or ACCOUNT/NAME (another's is the same 404 as none)."""
    lookup.check_ref(name, "vpn", "vpn")
    return lookup.resolve(session, caller, select(Vpn).where(
        Vpn.name == names.split_ref(name)[1], Vpn.deleted_at.is_(None)).order_by(Vpn.id),
        name, owner=lambda r: r.account_id, visible=lambda r: caller.may_see(r.account_id),
        kind="vpn", where="vpn", account_column=Vpn.account_id)


def new_vpn(ctx: Context, session: Session, caller: Caller, name: str, network: str,
            site: str) -> Vpn:
    names.check_name(name, kind="vpn", where="name")
    net = lookup.network(session, caller, network)
    if net.kind != "private":
        raise NotFound(f"network {network!r} does not exist", where="network")
    place = sites.find(session, caller, site)
    if place.account_id != net.account_id:
        raise Conflict(f"site {site} belongs to {place.account.name}, network {network} to "
                       f"{net.account.name}; a channel joins an account's own", where="site")
    if _live(session, net.account_id, name) is not None:
        raise Conflict(f"vpn {name!r} already exists", where="name")
    other = next(iter(gateways.channels(session, place.id)), None)
    if other is not None:
        raise Conflict(f"site {site} already has a channel, vpn {other.name} (to network "
                       f"{other.network.name if other.network else '?'})", where="site")
    edge.check_site_cidr(place.cidr, net.name, net.cidr, site=site)
    for v in gateways.channels(session, net.id):
        if v.site is not None and ipaddress.IPv4Network(v.site.cidr).overlaps(
                ipaddress.IPv4Network(place.cidr)):
            raise Conflict(f"site {site} ({place.cidr}) overlaps site {v.site.name} "
                           f"({v.site.cidr}), already joined to network {network} by vpn "
                           f"{v.name}", where="site")
    if not net.subnets:
        raise Conflict(f"network {network} has no subnet to join to a site", where="network")
    internet.give_leg(ctx, session, net)
    row = Vpn(name=name, account_id=net.account_id, network=net, site=place,
              network_key=_key(), site_key=_key(), preshared_key=wgkeys.encode(
                  os.urandom(wgkeys.KEY_BYTES)))
    session.add(row)
    session.flush()
    edge_metering.hold(session, VPN, row.id, row.name, net.account.name,
                       at_ms=to_ms(row.created_at))
    ctx.event(session, "vpn.created", name,
              f"channel between network {net.name} ({net.gateway_ip}) and site {site} "
              f"({place.gateway_ip}), UDP {edge.channel_port(row.id)}",
              account=net.account_id)
    return row


def create(ctx: Context, caller: Caller, name: str, network: str, site: str) -> VpnRead:
    with ctx.write() as session:
        vpn_id = new_vpn(ctx, session, caller, name, network, site).id
    ctx.converge()
    with ctx.read() as session:
        return view(session.get_one(Vpn, vpn_id))


def view(row: Vpn) -> VpnRead:
    net, site = row.network, row.site
    return VpnRead(
        name=row.name, account=row.account.name,
        network=net.name if net else None, site=site.name if site else None,
        status=ChannelStatus.DELETED if row.deleted_at is not None else ChannelStatus.ACTIVE,
        engine="wireguard", port=edge.channel_port(row.id),
        network_gateway=net.gateway_ip if net else None,
        site_gateway=site.gateway_ip if site else None,
        network_public_key=wgkeys.public_key(row.network_key),
        site_public_key=wgkeys.public_key(row.site_key),
        network_routes=[site.cidr] if site else [],
        site_routes=list(gateways.site_routes(net)) if net else [],
        interfaces=VpnEnds(network=names.tunnel(row.id, "n"), site=names.tunnel(row.id, "s")),
        created_at=row.created_at.isoformat(),
        deleted_at=row.deleted_at.isoformat() if row.deleted_at else None)


def get(ctx: Context, caller: Caller, name: str) -> VpnRead:
    with ctx.read() as session:
        return view(find(session, caller, name))


ORDER = paging.by_id("vpns", Vpn.id)


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST) -> VpnPage:
    with ctx.read() as session:
        query = select(Vpn).where(Vpn.deleted_at.is_(None),
                                  *paging.seen_by(caller, Vpn.account_id))
        rows, cursor = paging.objects(session, query, ORDER, page, lambda r: (r.id,))
        return VpnPage.of([view(r) for r in rows], cursor)


def remove(ctx: Context, session: Session, row: Vpn) -> None:
    """The channel ends (refused while a public address is associated with a host of its
    site: it would lead nowhere); the network keeps its leg only if it is a public gateway."""
    bound = list(session.scalars(select(PublicIp.address).where(
        PublicIp.site_id == row.site_id, PublicIp.network_id == row.network_id)))
    if bound:
        raise InUse(f"vpn {row.name} carries public IP {', '.join(bound)} to site "
                    f"{row.site.name if row.site else '?'}; disassociate it first",
                    where="vpn")
    row.deleted_at = dt.datetime.now(dt.UTC)
    edge_metering.let_go(session, VPN, row.id, at_ms=to_ms(row.deleted_at))
    net = row.network
    session.flush()
    if net is not None and not net.public_gateway and not gateways.channels(session, net.id):
        net.gateway_ip = None
    ctx.event(session, "vpn.deleted", row.name, "channel deleted", row.account_id)


def delete(ctx: Context, caller: Caller, name: str) -> None:
    with ctx.write() as session:
        remove(ctx, session, find(session, caller, name))
    ctx.converge()
