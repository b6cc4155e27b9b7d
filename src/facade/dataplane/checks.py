"""What every data-plane driver refuses as Fatal before it touches anything: names and node
specs that can never be carried out. Pure; the fake and the linux driver both call it, so they
refuse the same requests with the same words (the contract suite holds them to it)."""

from __future__ import annotations

import ipaddress

from facade.dataplane.errors import fatal
from facade.domain import names
from facade.domain.specs import NodeSpec
from facade.domain.states import NodeRole


def check_ifname(name: str) -> None:
    if not name or len(name.encode()) > names.IFNAMSIZ or "/" in name or " " in name:
        raise fatal(f"invalid interface name {name!r}")


def check_node(spec: NodeSpec) -> list[str]:
    """The spec's names, addresses and front-end legs; returns its interface names."""
    if not names.is_facade_netns(spec.netns) or spec.netns == names.FABRIC_NETNS \
            or "/" in spec.netns:
        raise fatal(f"ensure_node {spec.netns}: not a Facade node namespace name")
    ifnames = [p.ifname for p in spec.ports]
    if len(set(ifnames)) != len(ifnames) or "lo" in ifnames:
        raise fatal(f"ensure_node {spec.netns}: duplicate interface names {ifnames}")
    for p in spec.ports:
        check_ifname(p.ifname)
        check_ifname(p.host)
        try:
            ipaddress.IPv4Interface(p.address)
            if p.gateway:
                ipaddress.IPv4Address(p.gateway)
        except ValueError as exc:
            raise fatal(f"ensure_node {spec.netns}: port {p.ifname}: {exc}") from exc
    if (spec.gateway is not None or spec.routes) and spec.role != NodeRole.ROUTER:
        raise fatal(f"ensure_node {spec.netns}: only a router has a gateway or static routes")
    if spec.gateway is not None and spec.gateway.ifname not in ifnames:
        raise fatal(f"ensure_node {spec.netns}: gateway leg {spec.gateway.ifname} is not a port")
    if spec.tunnels and spec.gateway is None:
        raise fatal(f"ensure_node {spec.netns}: a tunnel needs a leg on the intermediate "
                    "network (a gateway)")
    for t in spec.tunnels:
        check_ifname(t.ifname)
        if t.ifname in ifnames:
            raise fatal(f"ensure_node {spec.netns}: tunnel {t.ifname} is also a port")
        try:
            for prefix in t.allowed:
                ipaddress.IPv4Network(prefix)
            host, _, port = t.endpoint.rpartition(":")
            ipaddress.IPv4Address(host)
            if not 0 < int(port) < 65536 or not 0 < t.listen_port < 65536:
                raise ValueError(f"port out of range in {t.endpoint} or {t.listen_port}")
        except ValueError as exc:
            raise fatal(f"ensure_node {spec.netns}: tunnel {t.ifname}: {exc}") from exc
    try:
        for prefix, via in spec.routes:
            ipaddress.IPv4Network(prefix)
            ipaddress.IPv4Address(via)
        for public, private in spec.gateway.nat if spec.gateway is not None else ():
            ipaddress.IPv4Address(public)
            ipaddress.IPv4Address(private)
    except ValueError as exc:
        raise fatal(f"ensure_node {spec.netns}: {exc}") from exc
    fe = spec.frontend
    if fe is not None:
        if spec.role != NodeRole.FRONTEND:
            raise fatal(f"ensure_node {spec.netns}: a frontend spec needs role 'frontend'")
        for ifname in (fe.customer_if, fe.backend_if):
            if ifname not in ifnames:
                raise fatal(f"ensure_node {spec.netns}: front-end interface {ifname} is not a "
                            "port")
    elif spec.role == NodeRole.FRONTEND:
        raise fatal(f"ensure_node {spec.netns}: role 'frontend' needs a frontend spec")
    return ifnames
