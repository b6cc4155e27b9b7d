"""The substrate of simulated hosts on one machine: a namespace `fcd-substrate` holding one
bridge (the "physical" network between hosts), and each simulated host a namespace
`fcd-h-NAME` with its underlay address on a veth pair from that bridge. Called by simhosts.py;
the names are read back by cleanup (every `fcd-` namespace is Facade's).

The underlay carries VXLAN (50 bytes of headers per frame), so its links get a jumbo MTU, as a
data centre's underlay does: the segments keep the usual 1500 bytes.
"""

from __future__ import annotations

import ipaddress
import os

from pyroute2 import IPRoute  # type: ignore[import-untyped]

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux import rawlink
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.links import get_link, ipr_in
from facade.dataplane.linux.sysctls import base_sysctls, fabric_sysctls
from facade.domain import names

# the names are domain/names.py's (the resync reads them back too); kept here under the names
# slice 1's callers use
SUBSTRATE = names.SUBSTRATE_NETNS
HOST_PREFIX = names.HOST_NETNS_PREFIX
REFLECTOR = names.REFLECTOR_NETNS  # the route reflector's namespace
REFLECTOR_PORT = names.REFLECTOR_PORT
BRIDGE = "underlay"  # inside the substrate namespace
UNDERLAY_IF = "underlay"  # a host's underlay link, inside the host's namespace
PORT_PREFIX = names.HOST_PORT_PREFIX  # a host's port on the substrate bridge
UNDERLAY_MTU = 9000
MAX_HOST_NAME = names.MAX_HOST_NAME  # the port's name must fit
check_host_name = names.check_host_name
host_netns = names.host_netns
is_overlay_netns = names.is_overlay_netns


def index_of(ipr: IPRoute, ifname: str) -> int:
    """The index of link `ifname` of a namespace; missing is an error naming it."""
    link = get_link(ipr, ifname)
    if link is None:
        raise DataPlaneError(f"no link {ifname} where it was just made")
    return int(link["index"])


def ensure_substrate() -> None:
    """The substrate namespace and its bridge, up (idempotent)."""
    if not ns.exists(SUBSTRATE):
        ns.create(SUBSTRATE, then=lambda: ns.write_sysctls(fabric_sysctls()))
    with ipr_in(SUBSTRATE) as sub:
        if get_link(sub, BRIDGE) is None:
            sub.link("add", ifname=BRIDGE, kind="bridge", br_stp_state=0, br_forward_delay=0)
        for name in (BRIDGE, "lo"):
            link = get_link(sub, name)
            if link is not None and link.get("state") != "up":
                sub.link("set", index=link["index"], state="up")


def add_host(name: str, address: ipaddress.IPv4Interface) -> str:
    """Host NAME's namespace with `address` on its underlay link, plugged into the substrate;
    returns the namespace's name. The host must not exist."""
    netns = host_netns(name)
    _plug(netns, names.host_port(name), address)
    return netns


def add_reflector(address: ipaddress.IPv4Interface) -> str:
    """The route reflector's namespace on the substrate, as a host's (it must not exist)."""
    _plug(REFLECTOR, REFLECTOR_PORT, address)
    return REFLECTOR


def _plug(netns: str, port: str, address: ipaddress.IPv4Interface) -> None:
    """A new namespace, its underlay link a veth pair from the substrate's bridge."""
    if ns.exists(netns):
        raise ValueError(f"{netns} exists already; `facade cleanup` removes a crashed run's")
    ensure_substrate()
    ns.create(netns, then=lambda: ns.write_sysctls(fabric_sysctls()))
    plug(netns, port, address)


def plug(netns: str, port: str, address: ipaddress.IPv4Interface) -> None:
    """An existing namespace's underlay link: a veth pair from the substrate's bridge (made
    first if need be), `address` on it (a stale port of that name replaced)."""
    ensure_substrate()
    fd = os.open(ns.path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        with ipr_in(SUBSTRATE) as sub:
            stale = get_link(sub, port)
            if stale is not None:
                sub.link("del", index=stale["index"])
            sub.link("add", ifname=port, kind="veth", mtu=UNDERLAY_MTU,
                     peer={"ifname": UNDERLAY_IF, "net_ns_fd": fd, "mtu": UNDERLAY_MTU})
            sub.link("set", index=index_of(sub, port), master=index_of(sub, BRIDGE),
                     state="up")
    finally:
        os.close(fd)
    with ipr_in(netns) as host:
        for ifname in ("lo", UNDERLAY_IF):
            host.link("set", index=index_of(host, ifname), state="up")
        host.addr("add", index=index_of(host, UNDERLAY_IF),
                  address=str(address.ip), prefixlen=address.network.prefixlen)


def underlay_address(netns: str) -> str | None:
    """The underlay address of a host's (or the fabric's) namespace; None without a leg."""
    with ipr_in(netns) as ipr:
        link = get_link(ipr, UNDERLAY_IF)
        if link is None:
            return None
        for addr in ipr.get_addr(index=link["index"], family=2):
            return str(addr.get_attr("IFA_ADDRESS"))
    return None


def port_up(port: str) -> bool:
    """Whether a host's port on the substrate bridge is there and up."""
    try:
        with rawlink.Netlink(SUBSTRATE) as sub:
            link = sub.link(name=port)
    except (ns.NamespaceMissing, FileNotFoundError):
        return False
    return link is not None and link.up


def unplug(netns: str) -> None:
    """A namespace's underlay leg removed (its substrate end goes with it)."""
    with ipr_in(netns) as ipr:
        link = get_link(ipr, UNDERLAY_IF)
        if link is not None:
            ipr.link("del", index=link["index"])


def remove_host(name: str) -> bool:
    """The host's namespace removed (its underlay port goes with it); True if it existed."""
    return ns.remove(host_netns(name))


def remove_reflector() -> bool:
    return ns.remove(REFLECTOR)


def remove_substrate() -> bool:
    return ns.remove(SUBSTRATE)


def node_sysctls() -> dict[str, str]:
    """A simulated node: IPv6 off, as the driver's nodes."""
    return base_sysctls()
