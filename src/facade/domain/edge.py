"""The provider network's edge, as rules on plain values (docs/edge.md): the intermediate
network's ranges, the operator's pools of public addresses, and which address comes next.

The intermediate network stands in for the Internet: one segment (198.18.0.0/15, the
benchmarking block, by default) whose router is the Internet's core, with external hosts
from the bottom of its range and the public gateways' legs from the top. Public addresses
come from the operator's pools (203.0.113.0/24, a documentation block, is the first), never
from the intermediate range itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from facade.domain.errors import Conflict, Invalid, describe
from facade.domain.ipam import SubnetRange

INTERNET = "internet"  # the intermediate network's name (the operator's)
HOSTS = "hosts"  # its one subnet
INTERMEDIATE_CIDR = "198.18.0.0/15"
DEFAULT_POOL = "203.0.113.0/24"
MIN_POOL_PREFIX, MAX_POOL_PREFIX = 16, 30
GATEWAY_IFNAME = "inet0"  # a public gateway's leg, inside its router
CHANNEL_PORT_BASE, CHANNEL_PORTS = 20000, 40000  # a channel's WireGuard UDP port, both ends
SITE_LAN = "lan"  # a customer site's one subnet, spanning its CIDR


def core_address(cidr: str = INTERMEDIATE_CIDR) -> str:
    """The Internet core's address: the intermediate subnet's gateway, every external host's
    and every public gateway's next hop."""
    return str(SubnetRange.of(cidr).gateway)


def check_pool(text: object, pools: Iterable[str], *, where: str = "cidr") -> str:
    """A new pool: an IPv4 network of /16 to /30, overlapping neither another pool nor the
    intermediate network (whose addresses are not public addresses)."""
    if not isinstance(text, str):
        raise Invalid(f"a pool is an IPv4 network like 203.0.113.0/24, not {describe(text)}",
                      where=where)
    try:
        net = ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        raise Invalid(f"{text!r} is not an IPv4 network like 203.0.113.0/24 ({exc})",
                      where=where) from None
    if not MIN_POOL_PREFIX <= net.prefixlen <= MAX_POOL_PREFIX:
        raise Invalid(f"a pool is /{MIN_POOL_PREFIX} to /{MAX_POOL_PREFIX}, not /{net.prefixlen}",
                      where=where)
    if net.overlaps(ipaddress.IPv4Network(INTERMEDIATE_CIDR)):
        raise Conflict(f"pool {net} overlaps the intermediate network {INTERMEDIATE_CIDR}, "
                       "whose addresses are external hosts' and gateways'", where=where)
    for other in pools:
        if net.overlaps(ipaddress.IPv4Network(other)):
            raise Conflict(f"pool {net} overlaps pool {other}", where=where)
    return str(net)


def _pool_addresses(cidr: str) -> Iterator[str]:
    for ip in ipaddress.IPv4Network(cidr).hosts():
        yield str(ip)


def next_public(pools: Iterable[str], taken: set[str], *, where: str = "address") -> str:
    """The first free address of the pools, in the order given; 409 when all are in use."""
    seen = []
    for cidr in pools:
        seen.append(cidr)
        for ip in _pool_addresses(cidr):
            if ip not in taken:
                return ip
    raise Conflict("every public address is in use (pools: " + (", ".join(seen) or "none")
                   + "); the operator adds one with `facade ip pool add CIDR`", where=where)


def check_public(text: object, *, where: str = "address") -> str:
    """An address as a user writes it: a plain IPv4 address."""
    try:
        return str(ipaddress.IPv4Address(text if isinstance(text, str) else ""))
    except ValueError:
        raise Invalid(f"{describe(text)} is not an IPv4 address like 203.0.113.5",
                      where=where) from None


def next_gateway(cidr: str, taken: set[str]) -> str:
    """A public gateway's address on the intermediate network: the highest free one (external
    hosts are numbered from the bottom)."""
    rng = SubnetRange.of(cidr)
    net = ipaddress.IPv4Network(cidr)
    ip = net.broadcast_address - 1
    while ip > rng.gateway:
        if str(ip) not in taken:
            return str(ip)
        ip -= 1
    raise Conflict(f"the intermediate network {cidr} has no address left for a public gateway",
                   where="public_gateway")


def channel_port(vpn_id: int) -> int:
    """The UDP port both ends of a private channel listen on (unique among a network's
    channels: one router holds them all)."""
    return CHANNEL_PORT_BASE + vpn_id % CHANNEL_PORTS


def contains(cidr: str, ip: str) -> bool:
    return ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(cidr)


def check_site_cidr(cidr: str, network: str, network_cidr: str, *, site: str,
                    where: str = "site") -> None:
    """A site joined to a network: their ranges may not overlap (409 naming both)."""
    if ipaddress.IPv4Network(cidr).overlaps(ipaddress.IPv4Network(network_cidr)):
        raise Conflict(f"site {site} ({cidr}) overlaps network {network} ({network_cidr}); "
                       "a channel routes each side's range to the other", where=where)


def check_site_range(cidr: str, *, where: str = "cidr") -> None:
    """A site's own range may not overlap the intermediate network (its router has a leg
    there)."""
    if ipaddress.IPv4Network(cidr).overlaps(ipaddress.IPv4Network(INTERMEDIATE_CIDR)):
        raise Conflict(f"site range {cidr} overlaps the intermediate network "
                       f"{INTERMEDIATE_CIDR}", where=where)
