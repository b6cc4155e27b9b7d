"""Deterministic kernel names, made here and nowhere else.

Every kernel object Facade makes carries the `fcd` prefix and is derived from a database id, so
`ip netns` / `ip link` show what it belongs to and cleanup can find exactly what Facade made.
Link names fit the kernel's 15-byte limit (IFNAMSIZ - 1). Resource names users choose are
checked here too, because they end up inside namespace names and command lines.
"""

from __future__ import annotations

import re

from facade.domain.errors import Invalid, describe

PREFIX = "fcd"
NETNS_PREFIX = "fcd-"
LINK_PREFIX = "fcd"
IFNAMSIZ = 15
FABRIC_NETNS = "fcd-fabric"

MAX_NAME = 40  # characters of a user-chosen name (the store's columns are this wide)
MAX_REF = 2 * MAX_NAME + 1  # "account/name": an object of another account (docs/api.md, Names)
MAX_SUBNET_REF = 3 * MAX_NAME + 2  # "network/subnet" or "account/network/subnet"
MAX_INTERFACE_REF = MAX_NAME + 1 + 4  # "instance/eth7"
_NAME = re.compile(rf"[a-z](?:[a-z0-9-]{{0,{MAX_NAME - 2}}}[a-z0-9])?")
_IFNAME = re.compile(r"eth[0-9]{1,2}")


def check_name(name: object, *, kind: str, where: str | None = None) -> str:
    """A user-chosen name: 1..40 chars of a-z, 0-9 and '-', starting with a letter."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise Invalid(f"{kind} name {name!r} must be 1-{MAX_NAME} characters of a-z, 0-9 and "
                      "'-', starting with a letter and not ending with '-'", where=where or kind)
    return name


def check_ref(value: object, *, kind: str, where: str | None = None) -> str:
    """A reference to an object: its NAME (the caller's own, or the one it may see) or
    ACCOUNT/NAME (that account's), both parts names (docs/api.md, "Names")."""
    parts = value.split("/") if isinstance(value, str) else []
    if not 1 <= len(parts) <= 2:
        raise Invalid(f"{kind} must be NAME or ACCOUNT/NAME (like search or acme/search), not "
                      f"{describe(value)}", where=where or kind)
    if len(parts) == 2:
        check_name(parts[0], kind="account", where=where or kind)
    check_name(parts[-1], kind=kind, where=where or kind)
    return str(value)


def split_ref(ref: str) -> tuple[str | None, str]:
    """(account or None, name) of a reference `check_ref` accepts."""
    account, _, name = ref.rpartition("/")
    return account or None, name


def check_subnet_ref(value: object, *, where: str, what: str = "subnet") -> str:
    """A subnet named as "network/subnet" or "account/network/subnet" (each part a name), in a
    body or a scenario file."""
    if not isinstance(value, str) or value.count("/") not in (1, 2):
        raise Invalid(f"{what} must name a subnet as network/subnet (NETWORK/SUBNET, like "
                      f"acme-vpc/app, or ACCOUNT/NETWORK/SUBNET), not {describe(value)}",
                      where=where)
    *account, network, subnet = value.split("/")
    for part in account:
        check_name(part, kind="account", where=where)
    check_name(network, kind="network", where=where)
    check_name(subnet, kind="subnet", where=where)
    return value


def check_interface_ref(value: object, *, where: str, what: str = "interface") -> str:
    """One interface of an instance named as "instance/ethN" (a rule's scope)."""
    parts = value.split("/") if isinstance(value, str) else []
    if len(parts) != 2 or not _IFNAME.fullmatch(parts[1]):
        raise Invalid(f"{what} must be instance/ethN (like web/eth0), not {describe(value)}",
                      where=where)
    check_name(parts[0], kind="instance", where=where)
    return str(value)


def iface_index(value: object, *, where: str) -> int:
    """The index of an interface named as inside its node (eth0 -> 0)."""
    if not isinstance(value, str) or not _IFNAME.fullmatch(value):
        raise Invalid(f"an interface is named ethN (eth0-eth99), not {describe(value)}",
                      where=where)
    return int(value[3:])


def _link(kind: str, ident: int) -> str:
    name = f"{LINK_PREFIX}{kind}{ident}"
    if len(name) > IFNAMSIZ:
        raise ValueError(f"link name {name} exceeds {IFNAMSIZ} bytes")
    return name


def bridge(subnet_id: int) -> str:
    """The bridge of a subnet, in the fabric namespace."""
    return _link("b", subnet_id)


def port(interface_id: int) -> str:
    """The fabric-side end of an interface's veth pair."""
    return _link("v", interface_id)


def router_port(subnet_id: int) -> str:
    """The fabric-side end of the network router's leg in a subnet."""
    return _link("g", subnet_id)


def gateway_port(network_id: int) -> str:
    """The fabric-side end of a network's public gateway leg on the intermediate network."""
    return _link("p", network_id)


def tunnel(vpn_id: int, side: str) -> str:
    """A private channel's WireGuard interface, inside the router of its network (side "n") or
    of its site (side "s"). Unique on the host, not only in its namespace: wireguard-go's
    control socket is /run/wireguard/NAME.sock."""
    if side not in ("n", "s"):
        raise ValueError(f"a tunnel's side is n or s, not {side!r}")
    return _link("w", vpn_id) + side


def mac(subnet_id: int, ip: str) -> str:
    """The MAC address of the interface holding `ip` in a subnet: locally administered, derived
    from the subnet and the address. An address handed out again (to a new instance) keeps its
    MAC, so neighbours' ARP caches stay right, as a cloud's virtual NIC keeps its MAC; within
    one subnet addresses are unique, so MACs are unique on its segment."""
    octets = [int(o) for o in ip.split(".")]
    if len(octets) != 4 or not all(0 <= o <= 255 for o in octets):
        raise ValueError(f"not an IPv4 address: {ip!r}")
    return ":".join(f"{b:02x}" for b in [0x02, subnet_id & 0xFF, *octets])


def made_by_mac(value: str) -> bool:
    """Whether a MAC has the form `mac` gives (locally administered, 02:...)."""
    parts = value.lower().split(":")
    return len(parts) == 6 and parts[0] == "02" and all(len(p) == 2 for p in parts)


def mac_on_segment(port_mac: str, ip: str) -> str:
    """The MAC of `ip` on the segment of a port whose MAC is `port_mac` (both made by `mac`):
    what lets a node resolve a neighbour without ARP, knowing only its address."""
    if not made_by_mac(port_mac):
        raise ValueError(f"not a MAC made by names.mac: {port_mac!r}")
    return mac(int(port_mac.split(":")[1], 16), ip)


# -- the overlay of many hosts (docs/multi-host.md) ----------------------------------------
# Their namespaces are Facade's (`fcd-`) but no database id names them: a host by its name, the
# substrate and the route reflector once per machine. The resync must know them (never orphans).

SUBSTRATE_NETNS = f"{NETNS_PREFIX}substrate"  # the "physical" network between simulated hosts
REFLECTOR_NETNS = f"{NETNS_PREFIX}rr"  # the route reflector's
HOST_NETNS_PREFIX = f"{NETNS_PREFIX}h-"  # a simulated host's: fcd-h-NAME
OVERLAY_NODE_PREFIX = f"{NETNS_PREFIX}n-"  # a node of the substrate's own tests: fcd-n-NAME
HOST_PORT_PREFIX = f"{LINK_PREFIX}u"  # a simulated host's port on the substrate's bridge
REFLECTOR_PORT = f"{LINK_PREFIX}rr"
LOCAL_HOST = "local"  # the host of a control plane's own machine: every plane has it
# the state folders of the simulated hosts' agents: $FACADE_HOME/host-agents/NAME
# (controller/simulated_agents.py; read by `facade cleanup`, dataplane/linux/cleanup.py)
HOST_AGENTS_DIR = "host-agents"
MAX_HOST_NAME = IFNAMSIZ - len(HOST_PORT_PREFIX)  # a simulated host's port name must fit
MAX_OVERLAY_NODE_NAME = IFNAMSIZ - 2  # the host's end of its veth is "n-NAME"
MAX_VNI = 2**24 - 1
_HOST_NAME = re.compile(rf"[a-z](?:[a-z0-9-]{{0,{MAX_HOST_NAME - 2}}}[a-z0-9])?")
_OVERLAY_NODE_NAME = re.compile(
    rf"[a-z](?:[a-z0-9-]{{0,{MAX_OVERLAY_NODE_NAME - 2}}}[a-z0-9])?")


def check_host_name(name: str) -> str:
    """A simulated host's name (it is in its substrate port's name, so at most MAX_HOST_NAME
    characters); ValueError otherwise (domain/hosts.py turns it into a 400 for a request)."""
    if not _HOST_NAME.fullmatch(name):
        raise ValueError(f"host name {name!r} must be 1-{MAX_HOST_NAME} characters of a-z, "
                         "0-9 and '-', starting with a letter and not ending with '-'")
    return name


def host_netns(name: str) -> str:
    """A simulated host's namespace (it plays the fabric's part for the nodes it holds)."""
    return HOST_NETNS_PREFIX + check_host_name(name)


def host_port(name: str) -> str:
    """A simulated host's port on the substrate's bridge."""
    return HOST_PORT_PREFIX + check_host_name(name)


def segment_vxlan(subnet_id: int) -> str:
    """The VXLAN port of a subnet's bridge (`fcdb<id>`) where the subnet is stretched over
    hosts: in the fabric and in each simulated host holding a node of it (VNI = the subnet's
    id: unique, deterministic, 24 bits)."""
    return _link("x", check_vni(subnet_id))


def is_host_netns(netns: str) -> bool:
    """A simulated host's namespace (`fcd-h-NAME`)."""
    return netns.startswith(HOST_NETNS_PREFIX)


def host_of_netns(netns: str) -> str | None:
    """The simulated host's name of its namespace; None if it is not one."""
    return netns[len(HOST_NETNS_PREFIX):] if is_host_netns(netns) else None


def check_vni(vni: int) -> int:
    if not 1 <= vni <= MAX_VNI:
        raise ValueError(f"a VNI is 1-{MAX_VNI}, not {vni}")
    return vni


def segment_bridge(vni: int) -> str:
    """A segment's bridge inside a host's namespace."""
    return f"br{check_vni(vni)}"


def vxlan(vni: int) -> str:
    """A segment's VXLAN device inside a host's namespace (VNI = the subnet's id, slice 2b)."""
    return f"vx{check_vni(vni)}"


def overlay_node_netns(name: str) -> str:
    """A node of the substrate's own tests and benchmark (simhosts.py), by name."""
    if not _OVERLAY_NODE_NAME.fullmatch(name):
        raise ValueError(f"node name {name!r} must be 1-{MAX_OVERLAY_NODE_NAME} characters of "
                         "a-z, 0-9 and '-', starting with a letter and not ending with '-'")
    return OVERLAY_NODE_PREFIX + name


def is_overlay_node_netns(netns: str) -> bool:
    return netns.startswith(OVERLAY_NODE_PREFIX)


def is_overlay_netns(netns: str) -> bool:
    """A namespace of the substrate, of a simulated host or of the route reflector."""
    return netns in (SUBSTRATE_NETNS, REFLECTOR_NETNS) or netns.startswith(HOST_NETNS_PREFIX)



def router_netns(network_id: int) -> str:
    return f"{NETNS_PREFIX}r{network_id}"


def node_netns(instance_id: int, name: str) -> str:
    """The namespace of an instance, front-end or backend node: id for uniqueness, name to read."""
    return f"{NETNS_PREFIX}i{instance_id}-{name}"


def inner_ifname(index: int) -> str:
    """The name of an instance's n-th interface, inside its namespace."""
    return f"eth{index}"


def router_ifname(subnet_id: int) -> str:
    return f"s{subnet_id}"


def is_facade_netns(name: str) -> bool:
    return name.startswith(NETNS_PREFIX)


def is_facade_link(name: str) -> bool:
    return name.startswith(LINK_PREFIX)


# -- reading names back (the resync maps what the kernel has to the store's ids) -------------

_BRIDGE = re.compile(r"fcdb(\d+)")
_PORT = re.compile(r"fcdv(\d+)")
_SEGMENT_VXLAN = re.compile(r"fcdx(\d+)")
_ROUTER = re.compile(r"fcd-r(\d+)")
_NODE = re.compile(r"fcd-i(\d+)-(.+)")
TUNNEL = re.compile(r"fcdw(\d+)([ns])")
_WORKLOAD = re.compile(r"wl(\d+)")
_AGENT = re.compile(r"agent-n(\d+)")


def _id(pattern: re.Pattern[str], name: str) -> int | None:
    m = pattern.fullmatch(name)
    return int(m.group(1)) if m else None


def bridge_id(name: str) -> int | None:
    """The subnet id of a bridge name (`fcdb7` -> 7), None if it is not one."""
    return _id(_BRIDGE, name)


def segment_vxlan_id(name: str) -> int | None:
    """The subnet id of a segment's VXLAN port name (`fcdx7` -> 7), None if it is not one."""
    return _id(_SEGMENT_VXLAN, name)


def port_id(name: str) -> int | None:
    """The interface id of a node's port name (`fcdv7` -> 7), None if it is not one."""
    return _id(_PORT, name)


def router_id(netns: str) -> int | None:
    return _id(_ROUTER, netns)


def node_id(netns: str) -> tuple[int, str] | None:
    """(instance id, instance name) of a node namespace name, None if it is not one."""
    m = _NODE.fullmatch(netns)
    return (int(m.group(1)), m.group(2)) if m else None


def workload_id(key: str) -> int | None:
    """The instance id of a workload's process key (`wl12` -> 12)."""
    return _id(_WORKLOAD, key)


def agent_network_id(key: str) -> int | None:
    """The management network id of an agent's process key (`agent-n3` -> 3)."""
    return _id(_AGENT, key)


_PUBLIC_IP_METER = re.compile(r"pip(\d+)_(in|out)")


def public_ip_meter(public_ip_id: int) -> str:
    """The stem of a public address's byte counters in its gateway (`pip12`: counters
    `pip12_in` and `pip12_out`); the id is the address's allocation (never reused), so a
    released and re-allocated address never continues another's count."""
    return f"pip{public_ip_id}"


def public_ip_meter_of(counter: str) -> tuple[int, str] | None:
    """(public IP id, "in" | "out") of a gateway counter's name, None if it is not one."""
    m = _PUBLIC_IP_METER.fullmatch(counter)
    return (int(m.group(1)), m.group(2)) if m else None
