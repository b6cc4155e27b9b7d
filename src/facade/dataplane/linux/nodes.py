"""Making and deleting a node: its sandbox and namespace, the port guard, its ports (links.py),
addresses, routes and rules (routes.py), sysctls and tables inside it (sysctls.py,
node_tables.py), the neighbour entries it announces to routers and learns from its segments
(neighbours.py), and its spec fingerprint on its `lo` alias. The driver (driver.py) calls
`ensure_node` and `delete_node` under the fabric's lock shared and the node's own.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from facade.dataplane import checks
from facade.dataplane.linux import (
    hostplane,
    linkcount,
    neighbours,
    nft_rules,
    overlay,
    rawlink,
    router_rules,
    tunnels,
)
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError, fatal
from facade.dataplane.linux.fabric_guard import FabricGuard, entries_of
from facade.dataplane.linux.links import (
    ALIAS_PREFIX,
    FABRIC,
    FE_TAG,
    HOST_TAG,
    RT_TAG,
    alias_tags,
    delete_links,
    ensure_ports,
    fabric_of,
    host_in_alias,
    ip_of,
    ipr_in,
)
from facade.dataplane.linux.nft import Nft
from facade.dataplane.linux.node_tables import ensure_router_filter, list_fe_table
from facade.dataplane.linux.prober import Prober
from facade.dataplane.linux.processes import Processes
from facade.dataplane.linux.routes import ensure_addresses, ensure_routes, ensure_rules
from facade.dataplane.linux.sandbox import Sandboxes
from facade.dataplane.linux.sysctls import base_sysctls, node_sysctls
from facade.domain import names
from facade.domain.specs import Leg, NodeSpec, PortSpec
from facade.domain.states import NodeRole

log = logging.getLogger("facade.dataplane")
trace = logging.getLogger("facade.trace")  # a node's making, step by step, with FACADE_TRACE


class _Steps:
    """How long each step of a node's making took (logged with FACADE_TRACE: where a slow
    `ensure_node` spent its time)."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.on = trace.isEnabledFor(logging.DEBUG)
        self.last = self.started = time.perf_counter()
        self.cpu = time.thread_time()
        self.spent: list[str] = []

    def __call__(self, step: str) -> None:
        if self.on:
            now = time.perf_counter()
            self.spent.append(f"{step} {(now - self.last) * 1e3:.0f}")
            self.last = now

    def log(self) -> None:
        if self.on:
            wall = (time.perf_counter() - self.started) * 1e3
            cpu = (time.thread_time() - self.cpu) * 1e3
            trace.debug("ensure_node %s steps (ms): %s; wall %.0f, this thread's CPU %.0f",
                        self.netns, ", ".join(self.spent), wall, cpu)
TEARDOWN_S = 2.0  # seconds a deleted node's namespace has to go, with its ports


def check_node(spec: NodeSpec) -> None:
    checks.check_node(spec)
    try:
        router_rules.isolated_legs(spec)
    except ValueError as exc:
        raise fatal(f"ensure_node {exc}") from exc


def ensure_node(spec: NodeSpec, *, sandboxes: Sandboxes, guard: FabricGuard, procs: Processes,
                prober: Prober, when_namespaced: Callable[[], None] | None = None,
                hub: bool = True, drives: Callable[[str | None], bool] | None = None) -> None:
    """Make the node exactly as `spec` says (the driver calls check_node first), under the
    fabric's lock shared and the node's own. `when_namespaced` is called once the node's
    namespace, sandbox and guard exist, before its ports (it starts the early processes).
    `hub`: this driver keeps the fabric's side of a host's segments too (hostplane.py; a
    host's agent does not). A node taken over from another host (its ports moved here, its
    namespace kept: on one machine every namespace is in /run/netns) releases that host's
    emptied segments only if this driver `drives` that host (None: every host); else that
    host's own driver does, when it lets the node go (`delete_node`)."""
    step = _Steps(spec.netns)
    where = fabric_of(spec)
    with contextlib.ExitStack() as stack:
        if not ns.exists(FABRIC):
            raise DataPlaneError(f"ensure_node {spec.netns}: no fabric; ensure the subnets "
                                 "first")
        if spec.host is not None:  # its segments on its host, stretched over the overlay
            for segment in sorted({p.bridge for p in spec.ports}):
                hostplane.ensure_segment(spec.host, segment, hub=hub)
        rfab = stack.enter_context(rawlink.Netlink(where))  # reads; `fab` changes
        bridges: dict[str, rawlink.Link] = {}
        for port in spec.ports:  # before anything is made: a missing bridge leaves nothing
            bridge = bridges.get(port.bridge) or rfab.link(name=port.bridge)
            if bridge is None or bridge.kind != "bridge":
                raise DataPlaneError(f"ensure_node {spec.netns}: no bridge {port.bridge} "
                                     f"for port {port.host}")
            bridges[port.bridge] = bridge
        fab = stack.enter_context(ipr_in(where))
        box = spec.sandbox
        if box is not None and box.own_network and ns.exists(spec.netns) \
                and not ns.owned_by_child_userns(spec.netns):
            # made before it had a sandbox: made again
            delete_node(spec.netns, sandboxes=sandboxes, guard=guard, procs=procs,
                        prober=prober, host=placed_on(spec.netns)[1], hub=hub)
        step("fabric")
        created = box is not None and sandboxes.prepare(spec.netns, box)
        step("sandbox")
        if created:
            ns.run_in_netns(spec.netns, lambda: ns.write_sysctls(base_sysctls()))
        elif not ns.exists(spec.netns):
            ns.create(spec.netns, then=lambda: ns.write_sysctls(base_sysctls()))
            created = True
        if box is not None and box.own_network:
            # before its ports join their bridges: a tenant's port is never unguarded
            guard.ensure(spec.netns, entries_of(spec), where=where)
        step("namespace and guard")
        if when_namespaced is not None:
            when_namespaced()
            step("early processes (launched)")
        with ipr_in(spec.netns) as node:
            links, made = ensure_ports(spec, fab, node, rfab, bridges)
            # the host its ports were on until now, as its alias (not rewritten yet) says
            left = host_in_alias(links["lo"].alias) if "lo" in links else None
            step("ports")
            if spec.role == NodeRole.ROUTER:
                _relearn(spec, fab, node, links, made, bridges)
                if spec.tunnels:
                    links = tunnels.make(spec, node, links)
            ensure_addresses(spec, node, links)
            ensure_routes(spec, node, links)
            ensure_rules(spec, node)
            for port in spec.ports:
                if port.neighbours and port.mac:
                    neighbours.resolve(node, links[port.ifname].index, port.mac,
                                       port.neighbours)
            step("addresses, routes, rules")
            digest = ns.run_in_netns(spec.netns, lambda: _inside_node(spec, created))
            step("sysctls, nftables")
            if spec.tunnels:
                tunnels.configure(spec)
            tag = FE_TAG if spec.frontend is not None else RT_TAG
            alias = ALIAS_PREFIX + spec.fingerprint() + (f"{tag}:{digest}" if digest
                                                         else "") \
                + (f"{HOST_TAG}:{spec.host}" if spec.host is not None else "")
            lo = links["lo"]
            if lo.alias != alias or not lo.up:
                node.link("set", index=lo.index, ifalias=alias, state="up")
        _announce(spec)
        if spec.host is not None and made:
            _arrive(spec)  # its host's bridge learns its MACs now: EVPN carries them
        if left is not None and left != spec.host and (drives is None or drives(left)):
            # moved (a front-end off a draining or lost host): its old ports went with their
            # peers, remade on the new host; the old host's segments go if nothing else uses them
            hostplane.release_segments(left, {p.bridge for p in spec.ports}, hub=hub)
        step("announce")
    step.log()


def delete_node(netns: str, *, sandboxes: Sandboxes, guard: FabricGuard, procs: Processes,
                prober: Prober, host: str | None, hub: bool = True
                ) -> tuple[list[str], list[int]]:
    """Delete the node and everything of it (its guard entries, announcements, processes,
    namespace, pidfiles and sandbox); returns what was removed, and the indexes of its ports'
    fabric ends, which go with its namespace a moment later (Teardowns). The driver calls it
    for a node it drives (`placed_on`); one moved to a host it does not drive it lets go
    (`let_go`). `host`: the simulated host its ports are on (`placed_on`)."""
    removed: list[str] = []
    where = names.host_netns(host) if host is not None else FABRIC
    entries = guard.record(netns)
    if entries and ns.exists(where):
        guard.ensure(netns, [], where=where)
        removed.append(f"port guard of {netns}")
    ends: list[int] = []
    if ns.exists(netns):
        if ns.exists(where):
            ends, bridges = _withdraw(netns, where)
            if host is not None:  # its ports deleted now, so its host's segments may go
                with ipr_in(where) as ipr:
                    delete_links(ipr, ends)
                ends = []
                removed += hostplane.release_segments(host, bridges, hub=hub)
        for pid in procs.kill_netns(netns):
            removed.append(f"process {pid}")
        removed += tunnels.forget(netns)  # a channel's engine killed with its router
    if ns.remove(netns):  # the namespace's name, or a name left without one
        removed.append(f"netns {netns}")
    # then: a check finishing meanwhile keeps no connection into a namespace without a name
    prober.forget(netns)  # a kept probe connection would keep the namespace alive
    for pf in procs.in_netns(netns):
        procs.remove_pidfile(pf.key, pf.netns)
    procs.reap()
    removed += sandboxes.remove(netns)
    return removed, ends


def let_go(netns: str, *, sandboxes: Sandboxes, guard: FabricGuard, procs: Processes,
           prober: Prober, where: str | None) -> list[str]:
    """Node `netns` taken over by another host (its ports moved there, its namespace and what
    runs in it kept): this driver's records of it go, nothing of the node itself. The
    processes it started there (its pidfiles) are stopped, since the new host's driver knows
    nothing of them and starts its own; its sandbox's control groups (this driver's, by its
    state folder: the new host's are others) with what runs in them (an init an `exec`
    started) and its files are removed; its port guard's entries in `where` (the namespace
    that held its ports here; None: not known) are taken out. Returns what was removed."""
    removed: list[str] = []
    entries = guard.record(netns)
    if entries and where is not None and ns.exists(where):
        guard.ensure(netns, [], where=where)
        removed.append(f"port guard of {netns}")
    for pf in procs.in_netns(netns):
        procs.stop(pf.key, grace=0.0)
        removed.append(f"process {pf.pid}")
    prober.forget(netns)
    procs.reap()
    removed += sandboxes.remove(netns)
    return removed


def placed_on(netns: str) -> tuple[bool, str | None]:
    """Whether Facade made node `netns` (its `lo` alias is Facade's: False for a node half
    made or gone), and the simulated host its ports are on (None: the local host)."""
    with contextlib.suppress(ns.NamespaceMissing, FileNotFoundError, OSError), \
            rawlink.Netlink(netns) as node:
        lo = node.link(name="lo")
        alias = lo.alias if lo is not None else None
        return alias_tags(alias)[0] is not None, host_in_alias(alias)
    return False, None


class Teardowns:
    """The deleted nodes whose ports have not gone yet. Once nothing holds a namespace (its
    name removed, its processes killed) the kernel destroys it with its devices, the veths'
    fabric ends included, many namespaces in one batch (one RTNL hold and RCU grace period for
    all, where deleting each node's links itself costs one of each per node). That takes tens
    of milliseconds, more when hundreds go at once; nobody waits for it (a worker waiting
    would keep the batches small): `gone` says whether it has happened, and deletes the
    ports still there TEARDOWN_S after the node: something still holds its namespace, and its
    links must not outlive the node."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[list[int], float]] = {}  # netns -> ends, deadline

    def add(self, netns: str, ends: list[int]) -> None:
        if ends:
            with self._lock:
                self._pending[netns] = (ends, time.monotonic() + TEARDOWN_S)

    def gone(self, netns: str) -> bool:
        with self._lock:
            pending = self._pending.get(netns)
        if pending is None:
            return True
        ends, deadline = pending
        late = time.monotonic() >= deadline
        if _outliving(netns, ends, 0.0, delete=late) and not late:
            return False
        with self._lock:
            self._pending.pop(netns, None)
        return True

    def wait(self, netns: str, ends: list[int]) -> None:
        """The teardown of `ends`, waited for here (cleanup: everything at once)."""
        _outliving(netns, ends, TEARDOWN_S, delete=True)


def _outliving(netns: str, ends: list[int], timeout: float, *, delete: bool) -> list[int]:
    """The ends still there after `timeout` seconds (0: one look), deleted with `delete`."""
    with contextlib.suppress(ns.NamespaceMissing):
        left = linkcount.outliving(FABRIC, ends, timeout)
        if left and delete:
            log.warning("%s: its namespace outlived it; deleting its ports", netns)
            with ipr_in(FABRIC) as fab:
                delete_links(fab, left)
        return left
    return []


def _inside_node(spec: NodeSpec, created: bool) -> str | None:
    """Runs in a thread inside the node: sysctls and nftables. Only read-only nft commands
    when nothing changes (a failed or no-op nft transaction still costs milliseconds).
    Returns a front-end's (or a filtering router's) chains digest, as the kernel lists them
    now (for observe)."""
    ns.write_sysctls(node_sysctls(spec))
    if spec.role == NodeRole.ROUTER:
        return ensure_router_filter(spec, created)
    fe = spec.frontend
    if fe is not None:
        backend_port = next(p for p in spec.ports if p.ifname == fe.backend_if)
        source = ip_of(backend_port.address)
        with Nft() as nft:
            listing = list_fe_table(nft)
            if listing is None or not nft_rules.is_declared(listing):
                nft.run(nft_rules.MAP_DECLARATION)
                listing = []
            if not nft_rules.is_current(listing, fe, source):
                nft.apply(nft_rules.table_commands(fe, source))
                listing = list_fe_table(nft) or []
            return nft_rules.chains_digest(listing)
    elif not created:
        with Nft() as nft:
            if list_fe_table(nft) is not None:
                nft.run(f"delete table {nft_rules.FAMILY} {nft_rules.TABLE}")
    return None


def _relearn(spec: NodeSpec, fab: IPRoute, router: IPRoute, links: dict[str, rawlink.Link],
             made: set[str], bridges: dict[str, rawlink.Link]) -> None:
    """A router leg made now (a new subnet, or the router made again after drift) learns what
    the ports already on its segment announce (neighbours.py): their fabric ends' aliases say.
    Only that segment's ports are read (the kernel filters the dump by master)."""
    for port in spec.ports:
        if port.ifname not in made or not port.mac:
            continue
        ends = []
        for index in linkcount.indexes(FABRIC, master=bridges[port.bridge].index):  # its ports
            with contextlib.suppress(NetlinkError):
                ends.extend(fab.link("get", index=index))
        ips = [ip for leg, ip in neighbours.announced(ends) if leg.ifname == port.ifname
               and leg.netns == spec.netns]
        neighbours.resolve(router, links[port.ifname].index, port.mac, ips)


def _announce(spec: NodeSpec) -> None:
    """Tell the routers on the node's segments its addresses (neighbours.py): one socket
    per router, however many of the node's legs it has."""
    by_router: dict[str, list[PortSpec]] = {}
    for port in spec.ports:
        if port.announce is not None and port.mac:
            by_router.setdefault(port.announce.netns, []).append(port)
    for netns, ports in by_router.items():
        with contextlib.suppress(ns.NamespaceMissing), rawlink.Netlink(netns) as nl:
            for port in ports:
                assert port.announce is not None and port.mac
                neighbours.announce(nl, port.announce, ip_of(port.address), port.mac)


def _withdraw(netns: str, where: str = FABRIC) -> tuple[list[int], set[str]]:
    """Take back what the node's ports announced (their fabric ends' aliases say what);
    returns the fabric ends' indexes (in `where`: the fabric, or the node's host) and the
    bridges they are on. Raw netlink (rawlink.py): this is most of a deletion's CPU through
    pyroute2."""
    ends: list[rawlink.Link] = []
    bridges: set[str] = set()
    with contextlib.suppress(ns.NamespaceMissing):
        with rawlink.Netlink(netns) as node:
            peers = {link.peer: link.index for link in node.links()
                     if link.fabric_port and link.peer}
        with rawlink.Netlink(where) as fab:
            # an index is a namespace's own: the end found must be the node's peer (a port
            # on a host, looked for in the fabric, would name another link there)
            ends = [end for end in map(fab.link, peers) if end is not None
                    and end.peer == peers[end.index]]
            if where != FABRIC:
                masters = {end.master for end in ends if end.master}
                bridges = {link.name for link in map(fab.link, masters)
                           if link is not None and link.name}
    by_router: dict[str, list[tuple[Leg, str]]] = {}
    for end in ends:
        parsed = neighbours.parse_alias(end.alias)
        if parsed is not None:
            by_router.setdefault(parsed[0].netns, []).append(parsed)
    for router, legs in by_router.items():
        with contextlib.suppress(ns.NamespaceMissing), rawlink.Netlink(router) as nl:
            for leg, ip in legs:
                link = nl.link(name=leg.ifname)
                if link is not None:
                    nl.delete_neighbour(link.index, ip)
    return [end.index for end in ends], bridges


def _arrive(spec: NodeSpec) -> None:
    """A node made on a simulated host announces each of its addresses (a gratuitous ARP), as
    a virtual machine arriving on a host does: its host's bridge learns the MAC at once and
    EVPN carries it to the other hosts, before the node's first connection."""
    for port in spec.ports:
        if port.mac:
            with contextlib.suppress(OSError, ns.NamespaceMissing):
                overlay.announce(spec.netns, port.mac, ip_of(port.address), port.ifname)
