"""Port security in the fabric: a tenant's port sends only from its own MAC and address.

A tenant is root of its own instance's (or backend's) network (sandbox.py): it may add
addresses, change its MAC, answer ARP for anyone. As a cloud's virtual switch does (AWS's
source/destination check, OpenStack's port security), the fabric lets a frame in from such a
port only if it is IPv4 or ARP from the port's own MAC and address; anything else from it (a
spoofed source, another MAC, IPv6, VLAN tags) is dropped at the bridge, where no tenant can
reach. Ports of Facade's own nodes (routers, front-ends) are not guarded.

One table in the fabric namespace, made once:

    table bridge fcd_guard {
        set ports { type ifname }                                 # guarded fabric ports
        set addrs { type ifname . ether_addr . ipv4_addr }        # what each may send from
        chain forward { type filter hook forward priority -300; policy accept;
            iifname != @ports accept
            ether type ip iifname . ether saddr . ip saddr @addrs accept
            ether type arp iifname . ether saddr . arp saddr ip @addrs
                iifname . arp saddr ether . arp saddr ip @addrs accept
            drop } }

Priority -300 runs before the security rules' chain (-200). Elements are added and removed per
node, so a change costs the node's ports, not the world: `add` of an element that exists is a
no-op, so removal is written "add, then delete" and never fails on a missing element.

Whether a node's entries are in place is answered from one listing of the set shared by the
observations of a few seconds (`Listing`): libnftables answers `get element` by reading the
whole set first, so one lookup costs as much as a third of a listing (measured: 10 ms per
lookup, 25 ms per listing at 3,000 elements), and the resync asked it for every node.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

FAMILY = "bridge"
TABLE = "fcd_guard"
PORTS = "ports"
ADDRS = "addrs"

DECLARATION = f"""\
table {FAMILY} {TABLE} {{
    set {PORTS} {{ type ifname; }}
    set {ADDRS} {{ type ifname . ether_addr . ipv4_addr; }}
    chain forward {{
        type filter hook forward priority -300; policy accept;
        iifname != @{PORTS} accept
        ether type ip iifname . ether saddr . ip saddr @{ADDRS} accept
        ether type arp iifname . ether saddr . arp saddr ip @{ADDRS} \
iifname . arp saddr ether . arp saddr ip @{ADDRS} accept
        drop
    }}
}}
"""


@dataclass(frozen=True, order=True)
class Entry:
    """One guarded port: its fabric-side name, and the MAC and address it may send from."""

    port: str
    mac: str
    ip: str

    def key(self) -> str:
        return f'"{self.port}" . {self.mac} . {self.ip}'


def _elements(entries: list[Entry]) -> tuple[str, str]:
    ports = ", ".join(sorted({f'"{e.port}"' for e in entries}))
    addrs = ", ".join(e.key() for e in sorted(entries))
    return ports, addrs


def add_commands(entries: list[Entry]) -> str:
    if not entries:
        return ""
    ports, addrs = _elements(entries)
    return (f"add element {FAMILY} {TABLE} {PORTS} {{ {ports} }}\n"
            f"add element {FAMILY} {TABLE} {ADDRS} {{ {addrs} }}\n")


def remove_commands(entries: list[Entry]) -> str:
    """Remove these ports' elements whether or not they are there (see module doc)."""
    if not entries:
        return ""
    ports, addrs = _elements(entries)
    return (add_commands(entries)
            + f"delete element {FAMILY} {TABLE} {ADDRS} {{ {addrs} }}\n"
            + f"delete element {FAMILY} {TABLE} {PORTS} {{ {ports} }}\n")


def read_entries(listing: list[dict[str, object]]) -> set[Entry]:
    """The `addrs` elements from `nft -j list set bridge fcd_guard addrs`."""
    out: set[Entry] = set()
    for obj in listing:
        body = obj.get("set")
        if not isinstance(body, dict) or body.get("name") != ADDRS:
            continue
        for elem in body.get("elem") or []:
            concat = elem.get("concat") if isinstance(elem, dict) else None
            if isinstance(concat, list) and len(concat) == 3:
                out.add(Entry(port=str(concat[0]), mac=str(concat[1]), ip=str(concat[2])))
    return out


class Listing:
    """The `addrs` set as last read, shared by observations for at most `ttl` seconds and
    dropped whenever this driver changes the set (`changed`), so it never hides the driver's
    own writes; a change made by someone else shows within `ttl`. A read that began before a
    change is used by its caller but not kept (it may predate the change)."""

    def __init__(self, read: Callable[[], set[Entry]], ttl: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.read, self.ttl, self.clock = read, ttl, clock
        self._lock = threading.Lock()
        self._entries: frozenset[Entry] | None = None
        self._at = 0.0
        self._generation = 0

    def changed(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries = None

    def has(self, entries: Iterable[Entry]) -> bool:
        with self._lock:
            current = self._entries if self.clock() - self._at < self.ttl else None
            generation = self._generation
        if current is None:
            started = self.clock()
            current = frozenset(self.read())
            with self._lock:
                if self._generation == generation:
                    self._entries, self._at = current, started
        return set(entries) <= current
