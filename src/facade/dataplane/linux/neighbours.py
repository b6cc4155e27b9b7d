"""Permanent neighbour (ARP) entries: the addresses Facade's own paths use, resolved without ARP.

Why: the kernel keeps one neighbour table for every namespace of the host, and one limit on its
dynamic entries (net.ipv4.neigh.default.gc_thresh3, 1024 by default, a host setting Facade must
not change). Each appliance's own paths (router to front-end and to every node's management leg,
front-end to backends, and the replies) cost about eight dynamic entries, so from about 160
appliances the table is full: new entries are refused ("neighbor table overflow"), probes time
out and healthy appliances are reported degraded; the host's own interfaces suffer the same.
Permanent entries are not counted against that limit (measured on this kernel: 1,500 permanent
entries in one namespace, a dynamic one still made, no overflow counted).

Facade knows every MAC: a port's MAC is a function of its subnet and address (names.mac), and the
port guard drops a frame sent from any other. So, as a cloud's virtual switch answers ARP from
its own table, the driver writes:
- in a node, the addresses its spec lists for each port (`PortSpec.neighbours`: its gateway, a
  backend's front-end);
- in the router, every port that has the router as gateway (`PortSpec.announce`), recorded in
  the alias of the port's fabric end so deleting the node withdraws exactly what it announced;
- in a front-end, its rotation (`set_backends`), exactly.
Everything else (a customer's instances among themselves, a client to an endpoint) keeps ARP:
traffic a tenant makes, as much as it makes. The entries are not drift-checked: one removed
behind Facade's back only brings ARP back for that address until the node is made again.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from typing import Any

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from facade.dataplane.linux import rawlink
from facade.domain import names
from facade.domain.specs import Leg

NUD_PERMANENT = 0x80
# the alias of a port's fabric end when the port is announced: "facade-nb NETNS IFNAME IP"
ANNOUNCED = "facade-nb"
# what a vanished link or namespace looks like to a neighbour change: nothing left to do
_GONE = (errno.ENODEV, errno.ENOENT, errno.ESRCH)


def permanent(ipr: IPRoute, index: int) -> dict[str, str]:
    """The permanent entries on one link: address -> MAC."""
    out: dict[str, str] = {}
    for n in ipr.neigh("dump", family=socket.AF_INET, ifindex=index):
        if n["state"] & NUD_PERMANENT and n.get("dst"):
            out[str(n.get("dst"))] = str(n.get("lladdr") or "")
    return out


def on_segment(mac: str, ip: str) -> bool:
    """Whether a link's MAC is the one names.mac gives its address (a port Facade addressed,
    not one left with the driver's random MAC), so its peers' MACs can be derived."""
    return names.made_by_mac(mac) and names.mac_on_segment(mac, ip) == mac.lower()


def resolve(ipr: IPRoute, index: int, own_mac: str, ips: tuple[str, ...] | list[str], *,
            exactly: bool = False) -> None:
    """Make `ips` resolve without ARP on the link `index` (whose MAC is `own_mac`); with
    `exactly`, the link's other permanent entries go."""
    want = {ip: names.mac_on_segment(own_mac, ip) for ip in ips}
    have = permanent(ipr, index)
    for ip, mac in want.items():
        if have.get(ip) != mac:
            ipr.neigh("replace", dst=ip, lladdr=mac, ifindex=index, state=NUD_PERMANENT)
    if exactly:
        for ip in have.keys() - want.keys():
            with contextlib.suppress(NetlinkError):
                ipr.neigh("del", dst=ip, ifindex=index)


def alias(leg: Leg, ip: str) -> str:
    return f"{ANNOUNCED} {leg.netns} {leg.ifname} {ip}"


def parse_alias(text: str | None) -> tuple[Leg, str] | None:
    """(leg, address) of an announced port's fabric end alias; None for any other alias."""
    parts = (text or "").split()
    if len(parts) != 4 or parts[0] != ANNOUNCED:
        return None
    return Leg(netns=parts[1], ifname=parts[2]), parts[3]


def announce(nl: rawlink.Netlink, leg: Leg, ip: str, mac: str) -> bool:
    """In the leg's namespace (`nl`, raw netlink: one of these per port a node announces):
    `ip` is at `mac`, permanently. False if the leg does not exist (its router is made later,
    or being remade: ARP does the work meanwhile)."""
    link = nl.link(name=leg.ifname)
    if link is None:
        return False
    try:
        return nl.replace_neighbour(link.index, ip, mac)
    except OSError as exc:
        if exc.errno in _GONE:
            return False
        raise


def announced(fabric_links: list[Any]) -> list[tuple[Leg, str]]:
    """What the given fabric ends announce."""
    out = []
    for link in fabric_links:
        parsed = parse_alias(link.get("ifalias"))
        if parsed is not None:
            out.append(parsed)
    return out
