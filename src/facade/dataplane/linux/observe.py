"""Reading the kernel back for the driver's observations: one node (its links, addresses, lo
alias and tables), a subnet's bridge, the security rules, the whole world, and the names-only
inventory. Read-only, and beside anything: a namespace deleted while it is read is simply gone.
The driver (driver.py) calls these without taking its locks.
"""

from __future__ import annotations

import dataclasses

from facade.dataplane.linux import linkcount, port_guard, rawlink
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.fabric_guard import FabricGuard
from facade.dataplane.linux.fabric_rules import observe_fabric
from facade.dataplane.linux.links import (
    FABRIC,
    FE_TAG,
    HOST_TAG,
    RT_TAG,
    alias_tags,
    fabric_links,
    fabrics,
    ipr_in,
)
from facade.dataplane.linux.node_tables import read_frontend, router_digest
from facade.dataplane.linux.processes import Processes
from facade.domain import names
from facade.domain.specs import (
    Inventory,
    ObservedNode,
    ObservedState,
    PortRuleSpec,
    RulesObservation,
)


def observe_node(netns: str, guard: FabricGuard) -> ObservedNode | None:
    """One node as the kernel has it (None: no such namespace); a tenant's node says whether
    the port guard holds what was recorded for it."""
    if not ns.exists(netns) or netns == FABRIC:
        return None
    try:
        node = read_node(netns)
    except (ns.NamespaceMissing, FileNotFoundError):
        return None  # deleted while we looked
    if node.own_network:
        want = guard.record(netns)
        if node.host is None:
            held = not want or ns.exists(FABRIC) and guard.listing.has(want)
        else:  # on a simulated host: that host's guard, read now
            held = not want or set(want) <= guard.current(names.host_netns(node.host))
        node = dataclasses.replace(node, guarded=want is not None and held)
    return node


def has_node(netns: str) -> bool:
    return netns != FABRIC and ns.exists(netns)


def _bridge(bridge: str) -> rawlink.Link | None:
    """The fabric's bridge of that name (rawlink: this is asked once per node reconcile)."""
    if not ns.exists(FABRIC):
        return None
    try:
        with rawlink.Netlink(FABRIC) as fab:
            link = fab.link(name=bridge)
    except (ns.NamespaceMissing, FileNotFoundError):
        return None
    return link if link is not None and link.kind == "bridge" else None


def observe_subnet(bridge: str) -> int | None:
    """The nodes' (and routers') ports on the subnet's bridge in the fabric: its veths; the
    VXLAN port of a subnet stretched over simulated hosts is the segment's, not counted."""
    link = _bridge(bridge)
    if link is None:
        return None
    try:  # without parsing them: the kernel filters by master and kind
        return len(linkcount.indexes(FABRIC, master=link.index, kind="veth"))
    except (ns.NamespaceMissing, FileNotFoundError):
        return None


def has_subnet(bridge: str) -> bool:
    return _bridge(bridge) is not None


def observe_rules(*, skip: frozenset[str] = frozenset()) -> RulesObservation:
    """The fabric's rules read back, and each simulated host's compared with them (but those
    in `skip`: hosts whose agents read their own)."""
    if not ns.exists(FABRIC):
        return RulesObservation()
    try:
        _bridges, (fingerprint, seen, drift), _guard = observe_fabric()
    except (ns.NamespaceMissing, FileNotFoundError):
        return RulesObservation()
    for where in fabrics()[1:]:  # each simulated host holds the same tables
        if where in skip:
            continue
        try:
            _b, (theirs, _seen, their_drift), _g = observe_fabric(where)
        except (ns.NamespaceMissing, FileNotFoundError):
            continue  # removed while we looked
        drift += tuple(f"on {where}: {d}" for d in their_drift)
        if theirs != fingerprint:
            drift += (f"on {where}: rules {theirs or 'missing'}, not the fabric's "
                      f"{fingerprint}",)
    return RulesObservation(fingerprint=fingerprint, seen=seen, drift=drift)


def inventory(procs: Processes, *, segments: bool = True) -> Inventory:
    """Names only: the namespaces' list, the fabric's links (one dump), the pidfiles."""
    namespaces = frozenset(n for n in ns.list_facade() if n != FABRIC)
    subnets: frozenset[str] = frozenset()
    if segments and ns.exists(FABRIC):
        try:
            with ipr_in(FABRIC) as fab:
                subnets = frozenset(n for n in fabric_links(fab)
                                    if names.is_facade_link(n))
        except (ns.NamespaceMissing, FileNotFoundError):
            pass
    return Inventory(namespaces=namespaces, subnets=subnets, processes=procs.keys())


def observe(procs: Processes, guard: FabricGuard, *,
            skip_hosts: frozenset[str] = frozenset(),
            only: frozenset[str] | None = None) -> ObservedState:
    """The whole world: every namespace of Facade's, the fabric in one look, the processes;
    but the nodes on `skip_hosts` (their agents observe them). With `only`, the nodes it
    names and not the fabric (a host's agent: the nodes on its host)."""
    subnets: frozenset[str] = frozenset()
    rules: tuple[str | None, dict[str, tuple[PortRuleSpec, ...]] | None, tuple[str, ...]] = \
        (None, None, ())
    nodes: dict[str, ObservedNode] = {}
    guarded: set[port_guard.Entry] = set()
    for name in ns.list_facade() if only is None else sorted(only):
        try:
            if name == FABRIC:
                subnets, rules, guarded = observe_fabric()
            elif names.is_host_netns(name):
                continue  # a simulated host's: its segments and ports, not a node
            else:
                nodes[name] = read_node(name)
        except (ns.NamespaceMissing, FileNotFoundError):
            continue  # deleted while we looked
    nodes = {n: node for n, node in nodes.items() if node.host not in skip_hosts}
    held: dict[str | None, set[port_guard.Entry]] = {None: guarded}
    for name, node in nodes.items():
        if node.own_network:
            want = guard.record(name)
            if node.host not in held:  # a simulated host's guard, read once
                held[node.host] = guard.current(names.host_netns(node.host or ""))
            nodes[name] = dataclasses.replace(
                node, guarded=want is not None and set(want) <= held[node.host])
    return ObservedState(subnets=subnets, nodes=nodes, processes=procs.observe(),
                         port_rules=rules[0], port_rules_seen=rules[1],
                         port_rules_drift=rules[2])


def read_node(name: str) -> ObservedNode:
    """One node's links, addresses, lo alias and tables (the port guard aside)."""
    fingerprint = recorded = host = None
    frontend = router = False
    with rawlink.Netlink(name) as nl:
        links = {link.index: link for link in nl.links()}
        addrs = nl.addresses()
    ports = frozenset(link.name for link in links.values() if link.fabric_port)
    for link in links.values():
        if link.name == "lo":
            # "facade:<fingerprint>", plus " fe:<digest of its nftables chains>" (or " rt:"),
            # plus " on:<host>" (links.py)
            fingerprint, tags = alias_tags(link.alias)
            frontend = FE_TAG.strip() in tags
            router = RT_TAG.strip() in tags
            recorded = tags.get(FE_TAG.strip()) or tags.get(RT_TAG.strip()) or None
            host = tags.get(HOST_TAG.strip()) or None
    addresses = frozenset((links[index].name, address) for index, address in addrs
                          if index in links and links[index].name != "lo")
    backends = rotation_drift = rules_drift = None
    if frontend:
        backends, rotation_drift, digest = read_frontend(name)
        if backends is not None and digest != recorded:
            rules_drift = ("a chain is missing" if digest is None else
                           "chains not recorded yet" if recorded is None else
                           "chains changed since Facade wrote them")
    elif router:
        digest = ns.run_in_netns(name, router_digest)
        if digest != recorded:
            rules_drift = ("router filter table missing" if digest is None else
                           "router filter changed since Facade wrote it")
    return ObservedNode(netns=name, fingerprint=fingerprint or None, addresses=addresses,
                        backends=backends, rotation_drift=rotation_drift,
                        rules_drift=rules_drift,
                        own_network=not router and ns.owned_by_child_userns(name),
                        ports=ports, host=host,
                        tunnels=frozenset(link.name for link in links.values()
                                          if names.TUNNEL.fullmatch(link.name or "")))
