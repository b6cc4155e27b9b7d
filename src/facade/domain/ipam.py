"""IP address management: which addresses of a subnet are usable, and the next free one.

Rules (as AWS VPC does, so users meet no surprise): in every subnet the network address, the
first host (the gateway, held by the network's router) and the broadcast address are reserved.
A /31 or /32 is too small to hold a gateway and a host and is refused. A subnet is one Linux
bridge in the fabric, and a bridge holds at most SEGMENT_PORTS ports: a subnet larger than that
(a /21 or more) still has at most SEGMENT_PORTS - 1 interfaces, its router holding the last port.
The walk for a free address is lazy and ordered; the caller's transaction and lock make it safe.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from facade.domain.errors import Conflict, Exhausted, Invalid

MIN_PREFIX = 8
MAX_PREFIX = 29
# the kernel's BR_MAX_PORTS (1,024) less port 0, which it never hands out: a 1,024th port is
# refused (EXFULL), measured as ensure_node failing for every node of a /20 past 1,022
SEGMENT_PORTS = 1023
# the longest text a CIDR or an address may be given as: "255.255.255.255/255.255.255.255"
# (a netmask is accepted, and stored as its prefix length)
MAX_CIDR_TEXT = 31
MAX_IP_TEXT = 15


def parse_cidr(text: str, *, where: str) -> ipaddress.IPv4Network:
    """Parse an IPv4 CIDR that must be written as its network address (10.0.1.0/24, not .5/24)."""
    try:
        net = ipaddress.IPv4Network(text, strict=True)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError) as exc:
        raise Invalid(f"{text!r} is not an IPv4 CIDR like 10.0.0.0/16", where=where) from exc
    except ValueError as exc:
        raise Invalid(f"{text!r} has host bits set; did you mean {ipaddress.IPv4Network(text, strict=False)}?",
                      where=where) from exc
    if not MIN_PREFIX <= net.prefixlen <= MAX_PREFIX:
        raise Invalid(f"prefix /{net.prefixlen} of {text} is out of range /{MIN_PREFIX}../{MAX_PREFIX}",
                      where=where)
    return net


def parse_ip(text: str, *, where: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError as exc:
        raise Invalid(f"{text!r} is not an IPv4 address", where=where) from exc


@dataclass(frozen=True)
class SubnetRange:
    """The address rules of one subnet."""

    cidr: ipaddress.IPv4Network

    @classmethod
    def of(cls, cidr: str) -> SubnetRange:
        return cls(ipaddress.IPv4Network(cidr))

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return self.cidr.network_address + 1

    @property
    def reserved(self) -> frozenset[ipaddress.IPv4Address]:
        return frozenset({self.cidr.network_address, self.gateway, self.cidr.broadcast_address})

    @property
    def capacity(self) -> int:
        """How many addresses instances can get: the usable ones, at most one per port of the
        subnet's segment but its router's."""
        return min(self.cidr.num_addresses - 3, SEGMENT_PORTS - 1)

    def usable(self) -> Iterator[ipaddress.IPv4Address]:
        """Addresses in order, lazily; never the reserved ones."""
        first = int(self.cidr.network_address) + 2
        last = int(self.cidr.broadcast_address) - 1
        for value in range(first, last + 1):
            yield ipaddress.IPv4Address(value)

    def check_requested(self, ip: ipaddress.IPv4Address, *, where: str) -> None:
        if ip not in self.cidr:
            raise Invalid(f"address {ip} is outside subnet {self.cidr}", where=where)
        if ip in self.reserved:
            what = "the gateway" if ip == self.gateway else "reserved"
            raise Invalid(f"address {ip} is {what} in subnet {self.cidr}", where=where)

    def next_free(self, taken: Iterable[str] | Taken, *, name: str) -> ipaddress.IPv4Address:
        """The lowest usable address not in `taken`, or Exhausted naming the subnet and its size."""
        used = taken.values if isinstance(taken, Taken) else Taken(taken).values
        first = int(self.cidr.network_address) + 2
        for value in range(first, int(self.cidr.broadcast_address)):
            if value not in used:
                return ipaddress.IPv4Address(value)
        raise Exhausted(f"subnet {name} ({self.cidr}) is full: all {self.capacity} usable addresses "
                        "are taken", where=name)

    def allocate(self, taken: Iterable[str] | Taken, requested: str | None, *, name: str,
                 where: str) -> ipaddress.IPv4Address:
        """The requested address if it is usable and free, else the next free one."""
        taken = taken if isinstance(taken, Taken) else Taken(taken)
        if len(taken) >= SEGMENT_PORTS - 1:
            raise Exhausted(f"subnet {name} ({self.cidr}) is full: its segment (a Linux bridge) "
                            f"holds {SEGMENT_PORTS} ports at most, its router's and "
                            f"{SEGMENT_PORTS - 1} interfaces", where=where)
        if requested is None:
            return self.next_free(taken, name=name)
        ip = parse_ip(requested, where=where)
        self.check_requested(ip, where=where)
        if str(ip) in taken:
            raise Conflict(f"address {ip} is already taken in subnet {name}", where=where)
        return ip


class Taken:
    """The addresses taken in a subnet, held as numbers (ipaddress parses 30 times slower), to
    allocate several from one reading: `add` what was allocated."""

    def __init__(self, addresses: Iterable[str] = ()) -> None:
        self.values = {_value(a) for a in addresses}

    @classmethod
    def of_values(cls, values: set[int]) -> Taken:
        """From addresses already numbers (service/taken.py keeps them so); `values` is
        taken over, not copied."""
        taken = cls()
        taken.values = values
        return taken

    def add(self, address: str) -> None:
        self.values.add(_value(address))

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and _value(address) in self.values

    def __len__(self) -> int:
        return len(self.values)


def check_subnet_in_network(subnet: ipaddress.IPv4Network, network: ipaddress.IPv4Network, *,
                            where: str) -> None:
    if not subnet.subnet_of(network):
        raise Invalid(f"subnet {subnet} is outside its network's {network}", where=where)


def check_no_overlap(subnet: ipaddress.IPv4Network, others: dict[str, str], *, where: str) -> None:
    """`others` maps sibling subnet names to CIDRs in the same network."""
    for name, cidr in others.items():
        if subnet.overlaps(ipaddress.IPv4Network(cidr)):
            raise Conflict(f"subnet {subnet} overlaps subnet {name} ({cidr}) of the same network",
                           where=where)


class Siblings:
    """The subnets of one network seen so far, to find an overlap without comparing all pairs
    (a network's create command and a scenario file's network ask it of each new subnet).

    CIDR blocks overlap only when one holds the other: a new block overlaps a sibling that is
    one of its supernets, or a sibling whose first address lies inside it.
    """

    def __init__(self) -> None:
        self.names: dict[ipaddress.IPv4Network, str] = {}
        self.starts: list[int] = []  # sorted first addresses
        self.by_start: dict[int, ipaddress.IPv4Network] = {}
        self.prefixes: set[int] = set()  # the prefix lengths held: the only supernets to try

    def overlapping(self, cidr: ipaddress.IPv4Network) -> dict[str, str]:
        for prefix in sorted((p for p in self.prefixes if p <= cidr.prefixlen), reverse=True):
            sup = cidr.supernet(new_prefix=prefix)
            if sup in self.names:
                return {self.names[sup]: str(sup)}
        i = bisect.bisect_left(self.starts, int(cidr.network_address))
        if i < len(self.starts) and self.starts[i] <= int(cidr.broadcast_address):
            inner = self.by_start[self.starts[i]]
            return {self.names[inner]: str(inner)}
        return {}

    def add(self, name: str, cidr: ipaddress.IPv4Network) -> None:
        self.names[cidr] = name
        self.prefixes.add(cidr.prefixlen)
        bisect.insort(self.starts, int(cidr.network_address))
        self.by_start[int(cidr.network_address)] = cidr


def _value(ip: str) -> int:
    """A stored address (dotted quad, as str(IPv4Address) writes it) as its number."""
    a, b, c, d = ip.split(".")
    return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
