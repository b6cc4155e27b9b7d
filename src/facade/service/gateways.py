"""The edge's part of the routers' specs (docs/edge.md): a private network's public gateway (its
leg on the intermediate network, its default route to the Internet core, the 1:1 NAT of the
public addresses associated with its instances or its sites' hosts, and their byte counters),
its private gateway (the network's ends of its channels), a customer site's gateway (its leg,
its outbound NAT, its channel's end) and the core's routes (each associated public address to
the gateway that translates it)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import edge, names, wgkeys
from facade.domain.ipam import SubnetRange
from facade.domain.specs import GatewaySpec, NodeSpec, PortSpec, TunnelSpec
from facade.domain.states import NodeStatus
from facade.store.models import Instance, Interface, Network, PublicIp, Subnet, Vpn


def find(session: Session) -> Network | None:
    """The intermediate network, if it was made (service/internet.py makes it)."""
    return session.scalar(select(Network).where(Network.kind == "intermediate"))


def hosts_subnet(net: Network) -> Subnet:
    """The intermediate network's one subnet."""
    return net.subnets[0]


def channels(session: Session, network_id: int) -> list[Vpn]:
    """The live private channels of a network or of a site."""
    return list(session.scalars(
        select(Vpn).where(Vpn.deleted_at.is_(None),
                          (Vpn.network_id == network_id) | (Vpn.site_id == network_id))
        .order_by(Vpn.id)))


def with_edge(session: Session, net: Network, spec: NodeSpec) -> NodeSpec:
    """`spec` (a network's router) with its part of the edge, if it has one."""
    if net.kind == "intermediate":
        return dataclasses.replace(spec, routes=_core_routes(session))
    site = net.kind == "site"
    chans = channels(session, net.id)
    if (not net.public_gateway and not chans and not site) or net.gateway_ip is None:
        return spec
    inet = find(session)
    if inet is None or not inet.subnets:
        return spec
    hosts = hosts_subnet(inet)
    rng = SubnetRange.of(hosts.cidr)
    tunnels = tuple(t for v in chans if (t := tunnel(v, net)) is not None)
    # the channels' far ends resolved without ARP (their legs' MACs follow names.mac): a
    # handshake sent while the far router is still being made would otherwise wait for a
    # failed resolution to expire (seconds)
    peers = tuple(t.endpoint.rpartition(":")[0] for t in tunnels)
    leg = PortSpec(host=names.gateway_port(net.id), bridge=names.bridge(hosts.id),
                   ifname=edge.GATEWAY_IFNAME,
                   address=f"{net.gateway_ip}/{rng.cidr.prefixlen}",
                   mac=names.mac(hosts.id, net.gateway_ip), neighbours=peers)
    translated = _nat(session, net.id)
    gateway = GatewaySpec(ifname=leg.ifname, via=str(rng.gateway),
                          nat=tuple((public, private) for public, private, _ in translated),
                          outbound=net.outbound_nat or site,
                          private=tuple(names.router_ifname(s.id) for s in net.subnets
                                        if not s.internet),
                          meters=tuple((public, names.public_ip_meter(ident))
                                       for public, _, ident in translated),
                          public=net.public_gateway or site)
    return dataclasses.replace(spec, ports=(*spec.ports, leg), gateway=gateway,
                               tunnels=tunnels)


def tunnel(vpn: Vpn, end: Network) -> TunnelSpec | None:
    """The end of `vpn` in `end`'s router (the network's or the site's); None while the other
    end has no leg on the intermediate network."""
    net, site = vpn.network, vpn.site
    if net is None or site is None or net.gateway_ip is None or site.gateway_ip is None:
        return None
    port = edge.channel_port(vpn.id)
    if end.id == net.id:
        return TunnelSpec(
            ifname=names.tunnel(vpn.id, "n"), private_key=vpn.network_key, listen_port=port,
            peer_key=wgkeys.public_key(vpn.site_key), preshared_key=vpn.preshared_key,
            endpoint=f"{site.gateway_ip}:{port}", allowed=(site.cidr,),
            legs_out=tuple(names.router_ifname(s.id) for s in net.subnets if not s.sites),
            snat=snat_address(net))
    return TunnelSpec(
        ifname=names.tunnel(vpn.id, "s"), private_key=vpn.site_key, listen_port=port,
        peer_key=wgkeys.public_key(vpn.network_key), preshared_key=vpn.preshared_key,
        endpoint=f"{net.gateway_ip}:{port}", allowed=site_routes(net), site=True)


def snat_address(net: Network) -> str | None:
    """The network router's address that connections translated to a site host enter the
    channel from (its leg in the network's first subnet), so the answer comes back."""
    return str(SubnetRange.of(net.subnets[0].cidr).gateway) if net.subnets else None


def site_routes(net: Network) -> tuple[str, ...]:
    """What a site reaches over its channel to `net` (routes propagated to the site): the
    subnets that reach sites, and the address translated connections come from."""
    out = [s.cidr for s in net.subnets if s.sites]
    snat = snat_address(net)
    if snat is not None and not any(edge.contains(c, snat) for c in out):
        out.append(f"{snat}/32")
    return tuple(out)


def _nat(session: Session, network_id: int) -> tuple[tuple[str, str, int], ...]:
    """(public address, private address, the public address's id) of each address the
    network's gateway translates: to an instance's interface, or to a host of a site over its
    channel."""
    rows = list(session.execute(
        select(PublicIp.address, Interface.ip, PublicIp.id)
        .join(Instance, Instance.id == PublicIp.instance_id)
        .join(Interface, (Interface.instance_id == Instance.id)
              & (Interface.index == PublicIp.iface_index))
        .where(PublicIp.network_id == network_id, Instance.status != NodeStatus.DELETING)))
    rows += session.execute(  # addresses associated with a site's hosts, over its channel
        select(PublicIp.address, PublicIp.site_address, PublicIp.id)
        .where(PublicIp.network_id == network_id, PublicIp.site_id.is_not(None)))
    return tuple(sorted((public, str(private), int(ident)) for public, private, ident in rows))


def _core_routes(session: Session) -> tuple[tuple[str, str], ...]:
    rows = session.execute(
        select(PublicIp.address, Network.gateway_ip)
        .join(Network, Network.id == PublicIp.network_id)
        .where(Network.public_gateway.is_(True), Network.gateway_ip.is_not(None))
        .order_by(PublicIp.address))
    return tuple((f"{public}/32", str(via)) for public, via in rows)
