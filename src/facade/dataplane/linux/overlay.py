"""The overlay on a simulated host: a subnet's segment is a bridge and a VXLAN device (one VNI)
in the host's namespace, and a node is a namespace `fcd-n-NAME` plugged into a host's segment
bridge by a veth pair. Called by simhosts.py.

The VXLAN device learns nothing from the wire (`nolearning`, and `learning off` on its bridge
port): remote MACs come only from BGP EVPN, which zebra installs as `extern_learn` entries, and
the flood list (00:00:00:00:00:00 per remote host) likewise. `neigh_suppress on` lets the bridge
answer ARP from the neighbour entries EVPN's MAC/IP routes give, instead of flooding it over the
underlay (this slice's routes carry MACs only: docs/multi-host.md, "Limits of this slice").
Facade writes no forwarding entry here.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.links import get_link, ipr_in
from facade.dataplane.linux.substrate import index_of, node_sysctls
from facade.domain import names

# the names are domain/names.py's (the resync reads them back too); kept here under the names
# slice 1's callers use
NODE_PREFIX = names.OVERLAY_NODE_PREFIX
VXLAN_PORT = 4789  # IANA's
NODE_IF = "eth0"
MAX_NODE_NAME = names.MAX_OVERLAY_NODE_NAME  # the host's end of its veth is "n-NAME"
MAX_VNI = names.MAX_VNI
check_vni = names.check_vni
segment_bridge = names.segment_bridge
segment_vxlan = names.vxlan
node_netns = names.overlay_node_netns
is_node_netns = names.is_overlay_node_netns


def check_mac(mac: str) -> str:
    """A node's MAC: six octets, unicast (a multicast source would never be learnt)."""
    parts = mac.lower().split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                  for p in parts) or int(parts[0], 16) & 1:
        raise ValueError(f"MAC {mac!r} must be six hex octets like 02:00:00:00:00:01, unicast "
                         "(the first octet even)")
    return mac.lower()


def ensure_segment(host_netns: str, vni: int, local_ip: str) -> None:
    """The segment VNI on a host: bridge brVNI with vxVNI as its port (idempotent)."""
    bridge, vxlan = segment_bridge(vni), segment_vxlan(vni)
    with ipr_in(host_netns) as host:
        if get_link(host, bridge) is None:
            host.link("add", ifname=bridge, kind="bridge", br_stp_state=0, br_forward_delay=0)
        if get_link(host, vxlan) is None:
            host.link("add", ifname=vxlan, kind="vxlan", vxlan_id=vni, vxlan_local=local_ip,
                      vxlan_port=VXLAN_PORT, vxlan_learning=0)
        br, vx = index_of(host, bridge), index_of(host, vxlan)
        host.link("set", index=vx, master=br)
        host.brport("set", index=vx, neigh_suppress=1, learning=0)
        for index in (vx, br):
            host.link("set", index=index, state="up")


def remove_segment(host_netns: str, vni: int) -> None:
    """The segment's bridge and VXLAN device gone from the host (zebra then withdraws the
    VNI's routes); nothing to do if they are."""
    with ipr_in(host_netns) as host:
        for ifname in (segment_vxlan(vni), segment_bridge(vni)):
            link = get_link(host, ifname)
            if link is not None:
                host.link("del", index=link["index"])


def attach_node(host_netns: str, vni: int, name: str, mac: str,
                address: ipaddress.IPv4Interface) -> str:
    """Node NAME: a new namespace whose eth0 (MAC `mac`, `address`) is plugged into the host's
    segment VNI; it then announces itself (a gratuitous ARP), as a virtual machine does when it
    boots or arrives on a host, so the host's bridge learns its MAC at once and EVPN carries
    it. Returns the node's namespace."""
    netns, mac = node_netns(name), check_mac(mac)
    if ns.exists(netns):
        raise ValueError(f"node {name} exists ({netns}); `facade cleanup` removes a crashed "
                         "run's")
    with ipr_in(host_netns) as host:
        if get_link(host, segment_bridge(vni)) is None:
            raise ValueError(f"host {host_netns} has no segment {vni}")
    ns.create(netns, then=lambda: ns.write_sysctls(node_sysctls()))
    try:
        _plug_node(host_netns, vni, name, mac, address)
    except BaseException:
        ns.remove(netns)  # nothing half made stays (its veth goes with it)
        raise
    announce(netns, mac, str(address.ip))
    return netns


def _plug_node(host_netns: str, vni: int, name: str, mac: str,
               address: ipaddress.IPv4Interface) -> None:
    netns = node_netns(name)
    fd = os.open(ns.path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        with ipr_in(host_netns) as host:
            port = f"n-{name}"
            host.link("add", ifname=port, kind="veth",
                      peer={"ifname": NODE_IF, "net_ns_fd": fd, "address": mac})
            host.link("set", index=index_of(host, port),
                      master=index_of(host, segment_bridge(vni)), state="up")
    finally:
        os.close(fd)
    with ipr_in(netns) as node:
        for ifname in ("lo", NODE_IF):
            node.link("set", index=index_of(node, ifname), state="up")
        node.addr("add", index=index_of(node, NODE_IF), address=str(address.ip),
                  prefixlen=address.network.prefixlen)


def detach_node(name: str) -> bool:
    """The node's namespace removed (its veth pair goes with it, so its host's bridge forgets
    the MAC and EVPN withdraws it); True if it existed."""
    return ns.remove(node_netns(name))


def garp(mac: str, ip: str) -> bytes:
    """A gratuitous ARP request frame (sender and target address both `ip`), broadcast."""
    hw = bytes.fromhex(mac.replace(":", ""))
    addr = socket.inet_aton(ip)
    eth = b"\xff" * 6 + hw + struct.pack("!H", 0x0806)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + addr + b"\x00" * 6 + addr
    return eth + arp


def announce(netns: str, mac: str, ip: str, ifname: str = NODE_IF) -> None:
    """A gratuitous ARP for `ip` (MAC `mac`) sent out of the node's `ifname`."""
    sock = ns.socket_in(netns, socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.bind((ifname, 0))
        sock.send(garp(mac, ip))
    finally:
        sock.close()
