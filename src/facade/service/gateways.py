"""The edge's part of the routers' specs (docs/edge.md): a private network's public gateway (its
leg on the intermediate network, its default route to the Internet core, the 1:1 NAT of the
public addresses associated with its instances and their byte counters) and the core's routes (each associated public
address to the gateway that translates it)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import edge, names
from facade.domain.ipam import SubnetRange
from facade.domain.specs import GatewaySpec, NodeSpec, PortSpec
from facade.store.models import Instance, Interface, Network, PublicIp, Subnet


def find(session: Session) -> Network | None:
    """The intermediate network, if it was made (service/internet.py makes it)."""
    return session.scalar(select(Network).where(Network.kind == "intermediate"))


def hosts_subnet(net: Network) -> Subnet:
    """The intermediate network's one subnet."""
    return net.subnets[0]


def with_edge(session: Session, net: Network, spec: NodeSpec) -> NodeSpec:
    """`spec` (a network's router) with its part of the edge, if it has one."""
    if net.kind == "intermediate":
        return dataclasses.replace(spec, routes=_core_routes(session))
    if not net.public_gateway or net.gateway_ip is None:
        return spec
    inet = find(session)
    if inet is None or not inet.subnets:
        return spec
    hosts = hosts_subnet(inet)
    rng = SubnetRange.of(hosts.cidr)
    leg = PortSpec(host=names.gateway_port(net.id), bridge=names.bridge(hosts.id),
                   ifname=edge.GATEWAY_IFNAME,
                   address=f"{net.gateway_ip}/{rng.cidr.prefixlen}",
                   mac=names.mac(hosts.id, net.gateway_ip))
    translated = _nat(session, net.id)
    gateway = GatewaySpec(ifname=leg.ifname, via=str(rng.gateway),
                          nat=tuple((public, private) for public, private, _ in translated),
                          outbound=net.outbound_nat,
                          private=tuple(names.router_ifname(s.id) for s in net.subnets
                                        if not s.internet),
                          meters=tuple((public, names.public_ip_meter(ident))
                                       for public, _, ident in translated))
    return dataclasses.replace(spec, ports=(*spec.ports, leg), gateway=gateway)


def _nat(session: Session, network_id: int) -> tuple[tuple[str, str, int], ...]:
    """(public address, private address, the public address's id) of each address the
    network's gateway translates."""
    rows = session.execute(
        select(PublicIp.address, Interface.ip, PublicIp.id)
        .join(Instance, Instance.id == PublicIp.instance_id)
        .join(Interface, (Interface.instance_id == Instance.id)
              & (Interface.index == PublicIp.iface_index))
        .where(PublicIp.network_id == network_id, Instance.status != "deleting")
        .order_by(PublicIp.address))
    return tuple((public, private, int(ident)) for public, private, ident in rows)


def _core_routes(session: Session) -> tuple[tuple[str, str], ...]:
    rows = session.execute(
        select(PublicIp.address, Network.gateway_ip)
        .join(Network, Network.id == PublicIp.network_id)
        .where(Network.public_gateway.is_(True), Network.gateway_ip.is_not(None))
        .order_by(PublicIp.address))
    return tuple((f"{public}/32", str(via)) for public, via in rows)
