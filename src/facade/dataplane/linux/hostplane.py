"""A control plane's simulated hosts (docs/multi-host.md, slice 2b): each a namespace
`fcd-h-NAME` on the substrate with its own zebra + bgpd, peering with the route reflector;
the local host's fabric (`fcd-fabric`) joins the same overlay (an underlay leg, its own FRR)
once the first simulated host exists, and leaves it with the last. A subnet's segment on a
host is its bridge `fcdb<id>` there with the VXLAN port `fcdx<id>` (VNI = the subnet's id);
the fabric's bridge of a subnet gets its VXLAN port while some host holds the segment.

Two roles (`hub`): the overlay's shared part (the substrate, the reflector, the fabric's leg
and FRR, the fabric's VXLAN port of each stretched segment) is the control plane's; a host's
own namespace, FRR and segments are whoever changes that host's kernel: the control plane for
a host without an agent (`hub=True`: both parts, as before agents), the host's agent for its
own (`hub=False`, agent_host.py: the shared part is then made by the control plane's driver
through `ensure_overlay`, `stretch_fabric`, `release_fabric` and `leave_overlay`, which the
routed data plane calls before or after it forwards the host's work). The driver (driver.py)
calls `ensure_host` and `remove_host`; nodes.py calls `ensure_segment` before a node's ports
and `release_segments` when a node on a host is deleted. FRR's folders: STATE/overlay/frr/<host> (the fabric's:
`_local`, the reflector's: `_reflector`), as simhosts.py's, so `facade cleanup` finds them.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import shutil
import time
from pathlib import Path

from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from facade.dataplane.linux import frr, linkcount, substrate
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.links import FABRIC, ensure_fabric, get_link, ipr_in, link_kind
from facade.domain import hosts, names

VXLAN_PORT = 4789  # IANA's
SESSION_TIMEOUT = 15.0  # seconds a new host's EVPN session has to come up


def frr_root(state_dir: Path) -> Path:
    return state_dir / "overlay" / "frr"


def _address(n: int) -> ipaddress.IPv4Interface:
    net = hosts.UNDERLAY
    return ipaddress.IPv4Interface(f"{net[n]}/{net.prefixlen}")


def _reflector(state_dir: Path) -> frr.Instance:
    return frr.Instance(substrate.REFLECTOR, substrate.REFLECTOR, frr_root(state_dir) / "_reflector")


def _fabric(state_dir: Path) -> frr.Instance:
    return frr.Instance(FABRIC, FABRIC, frr_root(state_dir) / "_local")


def _host(state_dir: Path, name: str) -> frr.Instance:
    netns = names.host_netns(name)
    return frr.Instance(netns, netns, frr_root(state_dir) / name)


def _running(inst: frr.Instance, configs: dict[str, str]) -> None:
    """The instance's zebra and bgpd running with `configs` (started again if either is
    missing: a half-started instance is stopped first)."""
    if all(frr.pid_of(inst, d) is not None for d in frr.DAEMONS):
        return
    frr.stop(inst)
    frr.write_config(inst, configs)
    frr.start(inst)


def host_names() -> list[str]:
    """The simulated hosts whose namespaces exist, by name."""
    return sorted(h for h in map(names.host_of_netns, ns.list_facade()) if h is not None)


def ensure_overlay(state_dir: Path) -> None:
    """The overlay's shared part running (the control plane's): the reflector, the fabric's
    leg and FRR (the local host joins the overlay with its first simulated host). Idempotent:
    what exists is kept, a stopped daemon started again. Does not wait for the sessions."""
    reflector = _address(hosts.REFLECTOR_HOST)
    if not ns.exists(substrate.REFLECTOR):
        substrate.add_reflector(reflector)
    _running(_reflector(state_dir), {
        "zebra": frr.zebra_conf("reflector"),
        "bgpd": frr.reflector_bgpd_conf("reflector", str(reflector.ip), str(hosts.UNDERLAY))})
    local = _address(hosts.LOCAL_UNDERLAY_HOST)
    ensure_fabric()
    if substrate.underlay_address(FABRIC) is None:
        substrate.plug(FABRIC, names.host_port(names.LOCAL_HOST), local)
    _running(_fabric(state_dir), {
        "zebra": frr.zebra_conf(names.LOCAL_HOST),
        "bgpd": frr.host_bgpd_conf(names.LOCAL_HOST, str(local.ip), str(reflector.ip))})


def ensure_overlay_ready(state_dir: Path) -> None:
    """ensure_overlay, then until the fabric's EVPN session is up (the routed data plane's,
    before it asks a host's agent to make its host)."""
    ensure_overlay(state_dir)
    _wait_established([_fabric(state_dir)])


def ensure_host(state_dir: Path, name: str, address: str, *, hub: bool = True) -> None:
    """Host NAME running: with `hub`, the overlay's shared part (ensure_overlay); the host's
    namespace at `address` and its FRR, until their EVPN sessions are up. Without `hub` (a
    host's agent) the substrate and reflector must exist: the control plane makes them first.
    Idempotent: what exists is kept, a stopped daemon started again."""
    if hub:
        ensure_overlay(state_dir)
    elif not ns.exists(substrate.SUBSTRATE):
        raise DataPlaneError(f"ensure_host {name}: no substrate yet (the control plane makes "
                             "it before it asks the host's agent)")
    reflector = _address(hosts.REFLECTOR_HOST)
    netns = names.host_netns(name)
    ip = ipaddress.IPv4Interface(f"{address}/{hosts.UNDERLAY.prefixlen}")
    if not ns.exists(netns):
        substrate.add_host(name, ip)
    elif substrate.underlay_address(netns) != address:
        raise DataPlaneError(f"ensure_host {name}: {netns} exists with another underlay "
                             f"address than {address}; `facade cleanup` removes a stale one")
    _running(_host(state_dir, name), {
        "zebra": frr.zebra_conf(name),
        "bgpd": frr.host_bgpd_conf(name, address, str(reflector.ip))})
    _wait_established([_host(state_dir, name)] + ([_fabric(state_dir)] if hub else []))


def _wait_established(instances: list[frr.Instance]) -> None:
    """Until each instance's EVPN session is up: a host is ready when the nodes placed on it
    can be reached, not when its daemons merely run (1-2 s: the connect retry is 1 s)."""
    deadline = time.monotonic() + SESSION_TIMEOUT
    pending = list(instances)
    while pending:
        pending = [i for i in pending if not frr.evpn_established(i)]
        if pending and time.monotonic() > deadline:
            raise DataPlaneError(f"no EVPN session with the route reflector after "
                                 f"{SESSION_TIMEOUT:g} s: {', '.join(i.name for i in pending)}")
        if pending:
            time.sleep(0.05)


def nodes_on(name: str) -> frozenset[str]:
    """The nodes whose ports are on host NAME: the namespaces at the other end of its
    `fcdv` ports (a veth's peer namespace, by its id as the host's namespace numbers it).
    On one machine every namespace is in /run/netns, so a host's agent knows its own nodes
    this way, not from the list (one dump of the host's links, then one id asked per node's
    namespace: a file opened, no thread)."""
    netns = names.host_netns(name)
    if not ns.exists(netns):
        return frozenset()
    found: set[str] = set()
    with ipr_in(netns) as ipr:
        peers = {link.get_attr("IFLA_LINK_NETNSID") for link in ipr.get_links()
                 if names.port_id(link.get_attr("IFLA_IFNAME") or "") is not None}
        peers.discard(None)
        if not peers:
            return frozenset()
        for node in ns.list_facade():
            if names.node_id(node) is None:
                continue  # nodes only (routers and the overlay's namespaces are not a host's)
            try:
                fd = os.open(ns.path(node), os.O_RDONLY)
            except OSError:
                continue  # gone meanwhile
            try:
                answer = ipr.get_netnsid(fd=fd)
            except NetlinkError:
                continue
            finally:
                os.close(fd)
            if answer is not None and answer.get("nsid") in peers:
                found.add(node)
    return frozenset(found)


def alive(state_dir: Path, name: str) -> bool:
    """Whether host NAME runs: its namespace, its port on the substrate up (its link to the
    other hosts: what a test cuts to make a host's loss) and its bgpd. Cheap, so the
    controller asks it every second: one link read, one pidfile."""
    if not ns.exists(names.host_netns(name)) or not ns.exists(substrate.SUBSTRATE):
        return False
    if not substrate.port_up(names.host_port(name)):
        return False
    return frr.pid_of(_host(state_dir, name), "bgpd") is not None


def fence(state_dir: Path, name: str) -> list[str]:
    """Lost host NAME fenced off the overlay: its FRR stopped, so that when its link comes
    back it announces nothing (a node moved away meanwhile keeps one owner of its MAC) until
    `rejoin` has swept it. Returns what was stopped."""
    return [f"process {pid} (frr)" for pid in frr.stop(_host(state_dir, name))]


def rejoin(state_dir: Path, name: str, address: str, keep: set[str], *,
           hub: bool = True) -> list[str] | None:
    """Fenced host NAME back on the overlay once its namespace and link run again: first
    every node port there not in `keep` removed (the copies of nodes made again elsewhere
    while it was lost) and the segments left empty, then its FRR started. A host whose
    namespace is gone (the machine started afresh) is made anew: nothing of it can be stale.
    None while its link is down (nothing done); else what was removed."""
    if not ns.exists(names.host_netns(name)):
        ensure_host(state_dir, name, address, hub=hub)
        return []
    if cut_off(name):
        return None
    removed = sweep(name, keep, hub=hub)
    ensure_host(state_dir, name, address, hub=hub)
    return removed


def cut_off(name: str) -> bool:
    """Whether host NAME's namespace is there without its link to the other hosts (up, on a
    substrate that runs): a lost host that cannot rejoin yet. One link read."""
    return ns.exists(names.host_netns(name)) and not substrate.port_up(names.host_port(name))


def sweep(name: str, keep: set[str], *, hub: bool = True) -> list[str]:
    """Every node port on host NAME that is not in `keep` removed (a veth: its peer, in the
    node, goes with it), then the segments left without a port; the segments kept get a new
    VXLAN port, so nothing of what the host's FRR installed before it was fenced (remote
    MACs at the hosts they were on then) outlives it: its next FRR installs what EVPN says
    now. Returns what was removed."""
    netns, removed, bridges = names.host_netns(name), [], set()
    with ipr_in(netns) as ipr:
        for link in ipr.get_links():
            ifname = link.get_attr("IFLA_IFNAME")
            if link_kind(link) == "bridge" and names.bridge_id(ifname) is not None:
                bridges.add(ifname)
            elif names.port_id(ifname or "") is not None and ifname not in keep:
                with contextlib.suppress(NetlinkError):  # gone meanwhile: fine
                    ipr.link("del", index=link["index"])
                    removed.append(f"port {ifname} of host {name}")
    removed += release_segments(name, bridges, hub=hub)
    local_ip = substrate.underlay_address(netns)
    for bridge in sorted(bridges):
        vni = names.bridge_id(bridge)
        assert vni is not None
        with ipr_in(netns) as ipr:
            if get_link(ipr, bridge) is None:
                continue  # released just now
            vx = get_link(ipr, names.segment_vxlan(vni))
            if vx is not None:
                ipr.link("del", index=vx["index"])
        if local_ip is not None:
            _stretch(netns, bridge, vni, local_ip)
            removed.append(f"forwarding entries of segment {vni} on host {name}")
    return removed


def remove_host(state_dir: Path, name: str, *, hub: bool = True) -> list[str]:
    """Host NAME gone: its FRR stopped (its routes withdrawn at once), what runs in it killed,
    its namespace and folder removed; with `hub` and the last host, the local host leaves the
    overlay and the reflector and substrate go (leave_overlay). Returns what was removed."""
    inst = _host(state_dir, name)
    removed = [f"process {pid} (frr)" for pid in frr.stop(inst)]
    if substrate.remove_host(name):
        removed.append(f"netns {inst.netns}")
    shutil.rmtree(inst.root, ignore_errors=True)
    if hub:
        removed += leave_overlay(state_dir)
    return removed


def leave_overlay(state_dir: Path) -> list[str]:
    """The overlay's shared part removed if no simulated host is left (the control plane's,
    after the last host's agent removed its host); nothing otherwise."""
    return _leave(state_dir) if not host_names() else []


def _leave(state_dir: Path) -> list[str]:
    """No simulated host left: the fabric's FRR, leg and VXLAN ports, the reflector and the
    substrate removed, as a plane that never had a host."""
    removed = [f"process {pid} (frr)" for pid in frr.stop(_fabric(state_dir))]
    removed += [f"process {pid} (frr)" for pid in frr.stop(_reflector(state_dir))]
    if ns.exists(FABRIC):
        substrate.unplug(FABRIC)
        with ipr_in(FABRIC) as fab:
            for link in fab.get_links():
                if link_kind(link) == "vxlan" and names.is_facade_link(link.get("ifname")):
                    fab.link("del", index=link["index"])
                    removed.append(f"link {link.get('ifname')}")
    for gone, what in ((substrate.remove_reflector(), substrate.REFLECTOR),
                       (substrate.remove_substrate(), substrate.SUBSTRATE)):
        if gone:
            removed.append(f"netns {what}")
    shutil.rmtree(frr_root(state_dir), ignore_errors=True)
    return removed


# ---------------------------------------------------------------------- segments
def _ensure_link(ipr: object, ifname: str, **kwargs: object) -> None:
    """Add a link unless one of that name exists (made beside us meanwhile: fine)."""
    if get_link(ipr, ifname) is None:
        try:
            ipr.link("add", ifname=ifname, **kwargs)  # type: ignore[attr-defined]
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise


def _stretch(netns: str, bridge: str, vni: int, local_ip: str) -> None:
    """Bridge `bridge` in `netns` (made if missing) with the VXLAN port of `vni` on it: learning
    off (remote MACs come from EVPN only), ARP suppression on, both up."""
    vxlan = names.segment_vxlan(vni)
    with ipr_in(netns) as ipr:
        _ensure_link(ipr, bridge, kind="bridge", br_stp_state=0, br_forward_delay=0)
        _ensure_link(ipr, vxlan, kind="vxlan", vxlan_id=vni, vxlan_local=local_ip,
                     vxlan_port=VXLAN_PORT, vxlan_learning=0)
        br, vx = get_link(ipr, bridge), get_link(ipr, vxlan)
        if br is None or vx is None:
            raise DataPlaneError(f"segment {vni} in {netns}: its links went as they were made")
        if vx.get_attr("IFLA_MASTER") != br["index"]:
            ipr.link("set", index=vx["index"], master=br["index"])
            ipr.brport("set", index=vx["index"], neigh_suppress=1, learning=0)
        for link in (vx, br):
            if link.get("state") != "up":
                ipr.link("set", index=link["index"], state="up")


def ensure_segment(host: str, bridge: str, *, hub: bool = True) -> None:
    """Subnet `bridge`'s segment on host HOST (its bridge and VXLAN port), and with `hub` the
    fabric's bridge of it stretched (stretch_fabric): a node of HOST may then join it."""
    vni = _vni(bridge)
    netns = names.host_netns(host)
    if not ns.exists(netns):
        raise DataPlaneError(f"ensure_node: no host {host} ({netns}); the host is made when "
                             "it is added")
    local_ip = substrate.underlay_address(netns)
    if local_ip is None:
        raise DataPlaneError(f"ensure_node: host {host} has no underlay leg yet")
    if hub:
        stretch_fabric(bridge)
    _stretch(netns, bridge, vni, local_ip)


def _vni(bridge: str) -> int:
    vni = names.bridge_id(bridge)
    if vni is None:
        raise DataPlaneError(f"ensure_node: {bridge} is not a subnet's bridge")
    return vni


def stretch_fabric(bridge: str) -> None:
    """The fabric's bridge of subnet `bridge` stretched over the overlay (its VXLAN port):
    the control plane's part of a segment, before a host's node joins it."""
    vni = _vni(bridge)
    fabric_ip = substrate.underlay_address(FABRIC) if ns.exists(FABRIC) else None
    if fabric_ip is None:
        raise DataPlaneError("ensure_node: the fabric has no underlay leg yet")
    with ipr_in(FABRIC) as fab:
        if get_link(fab, bridge) is None:
            raise DataPlaneError(f"ensure_node: no bridge {bridge} in the fabric; ensure the "
                                 "subnet first")
    _stretch(FABRIC, bridge, vni, fabric_ip)


def segments(host: str) -> set[str]:
    """The bridges of host HOST's segments (none if it has no namespace)."""
    netns = names.host_netns(host)
    if not ns.exists(netns):
        return set()
    with ipr_in(netns) as ipr:
        found = (link.get_attr("IFLA_IFNAME") for link in ipr.get_links()
                 if link_kind(link) == "bridge")
        return {name for name in found if name and names.bridge_id(name) is not None}


def release_segments(host: str, bridges: set[str], *, hub: bool = True) -> list[str]:
    """The segments of `bridges` on HOST removed where no node's port is left on them (their
    VXLAN port alone), and with `hub` the fabric's VXLAN port of each that no host holds any
    more (release_fabric). Returns what was removed."""
    netns, removed = names.host_netns(host), []
    for bridge in sorted(bridges):
        vni = names.bridge_id(bridge)
        if vni is None or not ns.exists(netns):
            continue
        with ipr_in(netns) as ipr:
            br = get_link(ipr, bridge)
            if br is None or linkcount.count(netns, master=br["index"]) > 1:
                continue  # another node's port is still on it
            for ifname in (names.segment_vxlan(vni), bridge):
                link = get_link(ipr, ifname)
                if link is not None:
                    with contextlib.suppress(NetlinkError):
                        ipr.link("del", index=link["index"])
            removed.append(f"segment {vni} of host {host}")
        if hub:
            removed += release_fabric({bridge})
    return removed


def release_fabric(bridges: set[str] | None = None) -> list[str]:
    """The fabric's VXLAN port of each of `bridges` (None: every one it has) that no
    simulated host holds any more (read in the hosts' namespaces: this machine's). Returns
    what was removed."""
    if not ns.exists(FABRIC):
        return []
    removed = []
    with ipr_in(FABRIC) as fab:
        if bridges is None:
            bridges = {names.bridge(vni) for vni in map(names.segment_vxlan_id, _fabric_vxlans(fab))
                       if vni is not None}
        held = host_names()
        for bridge in sorted(bridges):
            vni = names.bridge_id(bridge)
            if vni is None or any(_holds(h, bridge) for h in held):
                continue
            link = get_link(fab, names.segment_vxlan(vni))
            if link is not None:
                with contextlib.suppress(NetlinkError):
                    fab.link("del", index=link["index"])
                removed.append(f"link {names.segment_vxlan(vni)}")
    return removed


def _fabric_vxlans(fab: object) -> list[str]:
    """The names of the fabric's links that are segments' VXLAN ports."""
    found = (link.get_attr("IFLA_IFNAME") for link in fab.get_links())  # type: ignore[attr-defined]
    return [name for name in found if names.segment_vxlan_id(name or "") is not None]


def _holds(host: str, bridge: str) -> bool:
    with contextlib.suppress(ns.NamespaceMissing, FileNotFoundError), \
            ipr_in(names.host_netns(host)) as ipr:
        return get_link(ipr, bridge) is not None
    return False
