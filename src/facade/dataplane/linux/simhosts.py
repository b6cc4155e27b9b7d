"""Simulated hosts on one machine, joined by a VXLAN overlay whose mapping service is BGP EVPN
in FRR: the substrate (substrate.py), a route reflector, hosts each with its own zebra + bgpd
(frr.py), segments and nodes on them (overlay.py). `SimulatedHosts` is what the overlay's
kernel tests and bench/overlay.py drive; `cleanup` is what `facade cleanup` runs first
(cleanup.py), for whatever a crashed run left.

Nothing of the control plane uses this yet (docs/multi-host.md, "Not built yet: the next
slices"). State: FRR's folders under STATE_DIR/overlay/frr/INSTANCE.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from facade.dataplane.linux import frr, overlay, substrate
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.procfs import pidns_inode_of
from facade.domain import hosts, names

UNDERLAY = hosts.UNDERLAY  # domain/hosts.py's, where the control plane reads them too
REFLECTOR_HOST = hosts.REFLECTOR_HOST  # the reflector's address in the underlay: .1
FIRST_HOST = hosts.FIRST_HOST  # hosts from .11 up


def overlay_dir(state_dir: Path) -> Path:
    return state_dir / "overlay"


@dataclass
class Host:
    """A simulated host: its namespace, underlay address, FRR instance and segments."""

    name: str
    netns: str
    address: ipaddress.IPv4Interface
    frr: frr.Instance
    segments: set[int] = field(default_factory=set)


class SimulatedHosts:
    """Hosts made on demand; `close` removes everything it made (FRR stopped first)."""

    def __init__(self, state_dir: Path, underlay: ipaddress.IPv4Network = UNDERLAY) -> None:
        self.root = overlay_dir(state_dir) / "frr"
        self.underlay = underlay
        self.hosts: dict[str, Host] = {}
        self.nodes: dict[str, str] = {}  # node -> host
        self.reflector: frr.Instance | None = None
        self.reflector_ip = self._address(REFLECTOR_HOST)

    def _address(self, n: int) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(f"{self.underlay[n]}/{self.underlay.prefixlen}")

    def start_reflector(self) -> frr.Instance:
        """The route reflector (idempotent): its namespace on the substrate, zebra + bgpd."""
        if self.reflector is None:
            netns = substrate.add_reflector(self.reflector_ip)
            inst = frr.Instance(netns, netns, self.root / "_reflector")  # no host has "_"
            frr.write_config(inst, {
                "zebra": frr.zebra_conf("reflector"),
                "bgpd": frr.reflector_bgpd_conf("reflector", str(self.reflector_ip.ip),
                                                str(self.underlay))})
            frr.start(inst)
            self.reflector = inst
        return self.reflector

    def add_host(self, name: str) -> Host:
        """Host NAME on the substrate with the next free underlay address, its FRR peering
        with the reflector (started first if need be)."""
        substrate.check_host_name(name)
        if name in self.hosts:
            raise ValueError(f"host {name} exists")
        self.start_reflector()
        used = {h.address.ip for h in self.hosts.values()}
        n = next(i for i in range(FIRST_HOST, self.underlay.num_addresses - 1)
                 if self.underlay[i] not in used)
        address = self._address(n)
        netns = substrate.add_host(name, address)
        inst = frr.Instance(netns, netns, self.root / name)
        frr.write_config(inst, {
            "zebra": frr.zebra_conf(name),
            "bgpd": frr.host_bgpd_conf(name, str(address.ip), str(self.reflector_ip.ip))})
        frr.start(inst)
        host = Host(name, netns, address, inst)
        self.hosts[name] = host
        return host

    def remove_host(self, name: str) -> None:
        """The host gone as a stopped machine goes: FRR stopped (its routes withdrawn), its
        nodes and namespace removed, its folder deleted."""
        host = self._host(name)
        del self.hosts[name]
        frr.stop(host.frr)
        for node in [n for n, h in self.nodes.items() if h == name]:
            self.remove_node(node)
        substrate.remove_host(name)
        shutil.rmtree(host.frr.root, ignore_errors=True)

    def _host(self, name: str) -> Host:
        if name not in self.hosts:
            raise ValueError(f"no host {name} (hosts: {', '.join(sorted(self.hosts)) or 'none'})")
        return self.hosts[name]

    def add_segment(self, host: str, vni: int) -> None:
        h = self._host(host)
        overlay.ensure_segment(h.netns, vni, str(h.address.ip))
        h.segments.add(vni)

    def remove_segment(self, host: str, vni: int) -> None:
        """The segment gone from the host: zebra withdraws the VNI (its flood-list route)."""
        h = self._host(host)
        overlay.remove_segment(h.netns, vni)
        h.segments.discard(vni)

    def add_node(self, host: str, vni: int, name: str, mac: str, address: str) -> str:
        """Node NAME on the host's segment VNI (made if missing); returns its namespace."""
        if name in self.nodes:
            raise ValueError(f"node {name} exists (on host {self.nodes[name]})")
        if vni not in self._host(host).segments:
            self.add_segment(host, vni)
        netns = overlay.attach_node(self._host(host).netns, vni, name, mac,
                                    ipaddress.IPv4Interface(address))
        self.nodes[name] = host
        return netns

    def remove_node(self, name: str) -> None:
        self.nodes.pop(name, None)
        _kill_in(overlay.node_netns(name))
        overlay.detach_node(name)

    def show(self, command: str, host: str | None = None) -> str:
        """A vtysh show command on a host's FRR, or the reflector's (host None)."""
        inst = self._host(host).frr if host is not None else self.reflector
        if inst is None:
            raise DataPlaneError("no route reflector yet")
        return frr.vtysh(inst, command)

    def established(self, host: str) -> bool:
        """Whether the host's EVPN session with the reflector is up (bgpd's own word)."""
        return frr.evpn_established(self._host(host).frr)

    def wait_established(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.hosts)
        while pending:
            pending = {h for h in pending if not self.established(h)}
            if pending and time.monotonic() > deadline:
                raise DataPlaneError(f"no EVPN session after {timeout:.0f} s: "
                                     f"{', '.join(sorted(pending))}")
            time.sleep(0.1)

    def close(self) -> list[str]:
        """Everything made here removed: this PID namespace's FRR daemons and every overlay
        namespace this one sees (see cleanup)."""
        self.hosts.clear()
        self.nodes.clear()
        self.reflector = None
        return cleanup(self.root.parent.parent, every_plane=False)


def _kill_in(netns: str) -> list[int]:
    pids = ns.pids_in(netns)
    return frr.stop_pids(pids, grace=1.0) if pids else []


def cleanup(state_dir: Path, *, every_plane: bool = True) -> list[str]:
    """Every FRR daemon of Facade's (an `-N fcd-...` name; with `every_plane` False, only
    those of this PID namespace: not another sandbox's, which /proc shows too), then every
    process in and every namespace of the overlay (nodes, hosts, reflector, substrate), then
    the state's FRR folders: what a crashed run can leave. Safe when nothing exists."""
    daemons = frr.running(names.NETNS_PREFIX)
    if not every_plane:
        own = pidns_inode_of(os.getpid())
        daemons = [pid for pid in daemons if pidns_inode_of(pid) == own]
    removed = [f"process {pid} (frr)" for pid in frr.stop_pids(daemons)]
    mine = [n for n in ns.list_facade() if overlay.is_node_netns(n)]
    mine += [n for n in ns.list_facade() if substrate.is_overlay_netns(n)
             and n != substrate.SUBSTRATE]
    mine += [substrate.SUBSTRATE] if ns.exists(substrate.SUBSTRATE) else []
    for netns in mine:
        removed += [f"process {pid}" for pid in _kill_in(netns)]
        if ns.remove(netns):
            removed.append(f"netns {netns}")
    folder = overlay_dir(state_dir)
    if folder.exists():
        shutil.rmtree(folder)
        removed.append(f"folder {folder}")
    return removed
