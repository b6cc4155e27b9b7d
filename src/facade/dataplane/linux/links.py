"""Netlink in a namespace and the links Facade makes: the fabric's bridges (one per subnet) and a
node's ports (veth pairs made from the fabric, their peer placed directly in the node).

The driver's role modules call these (nodes.py, observe.py, fabric_rules.py, fabric_guard.py,
node_tables.py, routes.py); the driver (driver.py) calls the bridges' `ensure_bridge` and
`delete_bridge` under the fabric's lock. Netlink sockets for a namespace are made in a
short-lived namespace thread (netns.socket_in) and handed to pyroute2 as a file descriptor: no
fork, about 1 ms.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Iterator
from typing import Any

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from facade.dataplane.linux import linkcount, neighbours, rawlink
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.sysctls import fabric_sysctls
from facade.domain import names
from facade.domain.specs import NodeSpec, PortSpec, SubnetSpec

FABRIC = names.FABRIC_NETNS
# the node's spec fingerprint is kept as the ifalias of its `lo` ("facade:<fp>", plus
# " fe:<digest>" for front-ends and " rt:<digest>" for filtering routers, then " on:<host>" for
# a node on a simulated host): nodes.py writes it,
# observe.py reads it back
ALIAS_PREFIX = "facade:"
FE_TAG = " fe"
RT_TAG = " rt"
HOST_TAG = " on"  # " on:<host>": the node's ports are on that simulated host (NodeSpec.host)
DELETE_GROUP = 0xFCD  # link group used only to delete links in one batch


@contextlib.contextmanager
def ipr_in(netns: str) -> Iterator[IPRoute]:
    """An IPRoute whose netlink socket lives in `netns` (made in a namespace thread)."""
    sock = ns.socket_in(netns, socket.AF_NETLINK, socket.SOCK_DGRAM, 0)
    fd = sock.detach()
    try:
        ipr = IPRoute(fileno=fd)
    except BaseException:
        os.close(fd)
        raise
    try:
        yield ipr
    finally:
        ipr.close()


def fabric_of(spec: NodeSpec) -> str:
    """The namespace that holds the node's ports: its simulated host's, or the fabric."""
    return names.host_netns(spec.host) if spec.host is not None else FABRIC


def fabrics() -> list[str]:
    """The namespaces that hold ports: the fabric, and each simulated host's that exists
    (docs/multi-host.md); the security rules and the port guard are in each."""
    return [FABRIC, *sorted(n for n in ns.list_facade() if names.is_host_netns(n))]


def alias_tags(alias: str | None) -> tuple[str | None, dict[str, str]]:
    """A node's `lo` alias read back: (its fingerprint, {tag: value}), tags `fe`, `rt` and
    `on`; (None, {}) for an alias Facade did not write."""
    if not alias or not alias.startswith(ALIAS_PREFIX):
        return None, {}
    fingerprint, *tags = alias[len(ALIAS_PREFIX):].split(" ")
    return fingerprint or None, dict(t.partition(":")[::2] for t in tags if t)


def host_in_alias(alias: str | None) -> str | None:
    return alias_tags(alias)[1].get(HOST_TAG.strip()) or None


def link_kind(link: Any) -> str | None:
    kind = link.get(("linkinfo", "kind"))
    return str(kind) if kind is not None else None


def delete_links(ipr: IPRoute, indexes: list[int]) -> None:
    """Delete links in one batch: tag them with a link group, then delete the group (one
    RTM_DELLINK, one RCU grace period for all; about 16 ms per link one at a time). Deleting a
    veth end deletes its peer (the fabric end) too."""
    if not indexes:
        return
    for index in indexes:
        ipr.link("set", index=index, group=DELETE_GROUP)
    try:
        ipr.link("del", index=0, group=DELETE_GROUP)
    except NetlinkError:
        for index in indexes:  # one at a time, as a fallback
            with contextlib.suppress(NetlinkError):
                ipr.link("del", index=index)


def get_link(ipr: IPRoute, ifname: str) -> Any | None:
    try:
        return ipr.link("get", ifname=ifname)[0]
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise


def fabric_links(fab: IPRoute, ports: set[str] | frozenset[str] = frozenset(),
                 where: str = FABRIC) -> dict[str, Any]:
    """The fabric's (or a host's: `where`) bridges and the named ports (those that exist), by
    name: the kernel lists the bridges alone (linkcount), so this costs the segments and the
    ports asked for, not the whole fabric."""
    out: dict[str, Any] = {}
    for index in linkcount.indexes(where, kind="bridge"):
        with contextlib.suppress(NetlinkError):
            for link in fab.link("get", index=index):
                if link_kind(link) == "bridge":
                    out[link.get("ifname")] = link
    for name in ports:
        link = get_link(fab, name)
        if link is not None:
            out[name] = link
    return out


def ip_of(address: str) -> str:
    return address.split("/")[0]


def tenant_network(spec: NodeSpec) -> bool:
    """The node's network belongs to its tenant (SandboxSpec.own_network): Facade keeps its
    own ports, addresses, routes and rules there and leaves the tenant's alone."""
    return spec.sandbox is not None and spec.sandbox.own_network


def fabric_port(link: Any) -> bool:
    """A veth whose other end is in another namespace: one of Facade's ports (a tenant can
    make links only inside its own namespace)."""
    return link_kind(link) == "veth" and link.get_attr("IFLA_LINK_NETNSID") is not None


# ---------------------------------------------------------------------- a node's ports
def ensure_ports(spec: NodeSpec, fab: IPRoute, node: IPRoute, rfab: rawlink.Netlink,
                 bridges: dict[str, rawlink.Link]) -> tuple[dict[str, rawlink.Link], set[str]]:
    """Veth pairs for every port, nothing else in the node, each in its bridge (`bridges`, by
    name, as the caller found them); returns the node's links and the ports made now. Links
    are read with rawlink.py (`rfab` in the fabric: the attributes needed, not pyroute2's every
    one, which was most of a node's making) and changed with pyroute2 (`fab`, `node`)."""
    with rawlink.Netlink(spec.netns) as rnode:
        node_links = rnode.links_by_name()
        changed = _drop_unwanted(spec, node, node_links)
        hosts: dict[str, rawlink.Link] = {}
        made: set[str] = set()
        for port in spec.ports:
            host = rfab.link(name=port.host)
            inner = node_links.get(port.ifname)
            if not (host is not None and inner is not None and host.kind == "veth"
                    and host.peer == inner.index and inner.peer == host.index):
                host = _pair(spec, port, fab, node, rfab, inner, host)
                made.add(port.ifname)
                changed = True
            hosts[port.host] = host
        if changed:
            node_links = rnode.links_by_name()
    for port in spec.ports:
        _configure(port, fab, node, hosts[port.host], bridges[port.bridge].index,
                   node_links[port.ifname])
    return node_links, made


def _drop_unwanted(spec: NodeSpec, node: IPRoute, node_links: dict[str, rawlink.Link]) -> bool:
    """Remove the node's links no port or tunnel wants; whether any went. A tenant's own
    network keeps the links it made (not facing the fabric)."""
    # a router's tunnels are kept (tunnels.py makes them); a deleted channel's goes here
    wanted = {p.ifname for p in spec.ports} | {t.ifname for t in spec.tunnels}
    tenant = tenant_network(spec)
    changed = False
    for name, link in node_links.items():
        if name != "lo" and name not in wanted and (not tenant or link.fabric_port):
            node.link("del", index=link.index)  # its fabric peer goes with it
            changed = True
    return changed


def _pair(spec: NodeSpec, port: PortSpec, fab: IPRoute, node: IPRoute, rfab: rawlink.Netlink,
          inner: rawlink.Link | None, stale: rawlink.Link | None) -> rawlink.Link:
    """The port's veth pair made again from the fabric, its peer placed in the node (`inner`
    and `stale`, the ends found, removed first); returns the fabric end."""
    if inner is not None:
        node.link("del", index=inner.index)  # takes its peer with it
    if stale is not None and (inner is None or stale.peer != inner.index):  # not gone with it
        try:
            fab.link("del", index=stale.index)
        except NetlinkError as exc:  # gone meanwhile: its old namespace's teardown took it
            if exc.code != errno.ENODEV:
                raise
    fd = os.open(ns.path(spec.netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        fab.link("add", ifname=port.host, kind="veth",
                 peer={"ifname": port.ifname, "net_ns_fd": fd})
    finally:
        os.close(fd)
    host = rfab.link(name=port.host)
    if host is None:
        raise DataPlaneError(f"ensure_node {spec.netns}: port {port.host} went as it was made")
    return host


def _configure(port: PortSpec, fab: IPRoute, node: IPRoute, host: rawlink.Link,
               bridge: int, inner: rawlink.Link) -> None:
    """The fabric end in its bridge, up, announcing the port's address; the node's end with
    its MAC, up."""
    if host.master != bridge or not host.up:
        fab.link("set", index=host.index, master=bridge, state="up")
    announced = neighbours.alias(port.announce, ip_of(port.address)) \
        if port.announce is not None else None
    if host.alias != announced and (announced or host.alias):
        fab.link("set", index=host.index, ifalias=announced or "")
    if port.mac and inner.mac != port.mac:
        node.link("set", index=inner.index, address=port.mac)
    if not inner.up:
        node.link("set", index=inner.index, state="up")


# ---------------------------------------------------------------------- the fabric's bridges
def ensure_fabric() -> None:
    if not ns.exists(FABRIC):
        ns.create(FABRIC, then=lambda: ns.write_sysctls(fabric_sysctls()))


def ensure_bridge(spec: SubnetSpec) -> None:
    """The subnet's bridge in the fabric, up (the fabric made first if it is missing); a link
    of that name that is not a bridge is an error. Under the fabric's lock, held alone."""
    ensure_fabric()
    with ipr_in(FABRIC) as fab:
        link = get_link(fab, spec.bridge)
        if link is not None and link_kind(link) != "bridge":
            raise DataPlaneError(f"ensure_subnet {spec.bridge}: a {link_kind(link)} link "
                                 "of that name exists in the fabric")
        if link is None:
            fab.link("add", ifname=spec.bridge, kind="bridge", br_stp_state=0,
                     br_forward_delay=0)
            link = get_link(fab, spec.bridge)
            assert link is not None
        if link.get("state") != "up":
            fab.link("set", index=link["index"], state="up")


def delete_bridge(bridge: str) -> None:
    """The subnet's bridge deleted, once it has no port; the fabric goes with its last segment.
    Under the fabric's lock, held alone."""
    if not ns.exists(FABRIC):
        return
    with ipr_in(FABRIC) as fab:
        link = get_link(fab, bridge)
        if link is None:
            return
        ports = linkcount.count(FABRIC, master=link["index"])
        subnet = names.bridge_id(bridge)
        vxlan = get_link(fab, names.segment_vxlan(subnet)) \
            if subnet and subnet <= names.MAX_VNI else None
        if ports == 1 and vxlan is not None and vxlan.get_attr("IFLA_MASTER") == link["index"]:
            # its stretch over the overlay is the last port (its hosts' nodes are gone)
            fab.link("del", index=vxlan["index"])
            ports = 0
        if ports:
            raise DataPlaneError(f"delete_subnet {bridge}: bridge still has ports "
                                 f"({ports})")
        fab.link("del", index=link["index"])
    if linkcount.count(FABRIC) <= 1:  # lo alone: the last segment went
        ns.remove(FABRIC)
