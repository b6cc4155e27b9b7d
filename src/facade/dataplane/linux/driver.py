"""LinuxDataPlane: the `DataPlane` protocol on real Linux networking.

Layout (see docs in ARCHITECTURE.md, "The data plane on one host"):
- one fabric namespace (names.FABRIC_NETNS) holding a bridge per subnet;
- one namespace per node; each port is a veth pair created from the fabric with its peer placed
  directly in the node (nothing ever appears in the host's root namespace);
- the first port is primary (main table); port k>0 gets `noprefixroute`, table 100+k and a rule
  `from IP lookup 100+k` (priority 1000+k); routers keep every subnet in the main table;
- front-ends: sysctls, `fwmark 0x1 lookup <backend table>` (priority 100), and the nftables table
  from `nft_rules`; the backend rotation lives in an nft map edited atomically;
- routers with isolated legs: the filter table from `router_rules` (provider-internal subnets
  are not routed);
- the node's spec fingerprint is kept as the ifalias of its `lo` ("facade:<fp>", plus
  " fe:<digest>" for front-ends and " rt:<digest>" for filtering routers), so observe() reads
  everything back from the kernel.

Netlink sockets for a namespace are made in a short-lived namespace thread (netns.socket_in) and
handed to pyroute2 as a file descriptor: no fork, about 1 ms. Changes to different nodes may
run side by side (locks.py: a lock per node, the fabric's shared by node operations and held
alone by subnet, rule and cleanup operations); probes and observe() run beside anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import http.client
import ipaddress
import json
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from facade import bounded_http
from facade.dataplane import checks
from facade.dataplane.linux import (
    conntrack,
    linkcount,
    neighbours,
    nft_rules,
    port_guard,
    port_rules,
    router_rules,
)
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError, fatal
from facade.dataplane.linux.locks import NodeLocks, SharedLock
from facade.dataplane.linux.nft import Nft, NftError
from facade.dataplane.linux.prober import Prober, net_error
from facade.dataplane.linux.processes import Processes, starttime, wait_entered
from facade.dataplane.linux.sandbox import NoSandbox, Sandboxes
from facade.domain import names
from facade.domain.specs import (
    ExecResult,
    Inventory,
    NodeSpec,
    ObservedNode,
    ObservedProcess,
    ObservedState,
    PortRuleSpec,
    PortSpec,
    Probe,
    ProbeResult,
    ProcessSpec,
    RulesObservation,
    SubnetSpec,
)

FABRIC = names.FABRIC_NETNS
ALIAS_PREFIX = "facade:"
FE_TAG = " fe"
RT_TAG = " rt"
IFA_F_NOPREFIXROUTE = 0x200
RT_TABLE_MAIN = 254
RT_SCOPE_LINK = 253
RTPROT_KERNEL = 2
RTPROT_STATIC = 4
RTPROT_FACADE = 252  # the routes Facade adds in a tenant's own network (its own are others)
RTN_UNICAST = 1
TABLE_BASE = 100
RULE_FROM_BASE = 1000
RULE_FWMARK = 100
RULE_REPLY_MARK = 101
RULE_LOCAL = 200  # front-ends: the local table moves after the mark rules
RT_TABLE_LOCAL = 255
DELETE_GROUP = 0xFCD  # link group used only to delete links in one batch
GUARD_READS = 3  # tries of one listing of the port guard before it is an error
MANAGED_RULES = range(1, 32000)  # 0, 32766, 32767 are the kernel's
# in a tenant's own network, the rule priorities Facade keeps for itself (the per-leg rules)
TENANT_RESERVED = range(RULE_FROM_BASE, RULE_FROM_BASE + 100)

T = TypeVar("T")
P = ParamSpec("P")
Method = Callable[Concatenate["LinuxDataPlane", P], T]


def _boundary(what: str) -> Callable[[Method[P, T]], Method[P, T]]:
    """Translate kernel errors raised by a public method into DataPlaneError once: a value
    the kernel or a parser refuses (ValueError) is Fatal, anything else (netlink, nftables, OS)
    is worth a retry. The method keeps its signature."""

    def deco(fn: Method[P, T]) -> Method[P, T]:
        @functools.wraps(fn)
        def wrapper(self: LinuxDataPlane, /, *args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return fn(self, *args, **kwargs)
            except DataPlaneError:
                raise
            except (NetlinkError, NftError, OSError, ValueError) as exc:
                target = args[0] if args else ""
                name = getattr(target, "netns", None) or getattr(target, "bridge", None) \
                    or getattr(target, "key", None) or target
                message = f"{what} {name}: {_describe(exc)}"
                if isinstance(exc, ValueError):
                    raise fatal(message) from exc
                raise DataPlaneError(message) from exc

        return wrapper

    return deco


def _describe(exc: BaseException) -> str:
    if isinstance(exc, NetlinkError):
        return f"netlink error {exc.code} ({os.strerror(exc.code)})"
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def _ipr(netns: str) -> Iterator[IPRoute]:
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


def _kind(link: Any) -> str | None:
    kind = link.get(("linkinfo", "kind"))
    return str(kind) if kind is not None else None


def _links(ipr: IPRoute) -> dict[str, Any]:
    return {link.get("ifname"): link for link in ipr.get_links()}


def _delete_links(ipr: IPRoute, indexes: list[int]) -> None:
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


def _tables(nft: Nft) -> set[tuple[str, str]]:
    """(family, name) of every table that has a chain (each of Facade's has). Not `list
    tables`: libnftables fills its cache whole for it, every set's elements included (7 ms at
    1,000 port guard entries, 19 ms at 3,000); `list chains` reads no element (0.15 ms)."""
    out: set[tuple[str, str]] = set()
    for obj in nft.list("chains"):
        chain = obj.get("chain")
        if chain:
            out.add((str(chain.get("family")), str(chain.get("table"))))
    return out


def _list_fe_table(nft: Nft) -> list[dict[str, Any]] | None:
    """The front-end table's listing, None if there is none (read-only: no transaction)."""
    if (nft_rules.FAMILY, nft_rules.TABLE) not in _tables(nft):
        return None
    return nft.list(f"table {nft_rules.FAMILY} {nft_rules.TABLE}")


def _list_rt_table(nft: Nft) -> list[dict[str, Any]] | None:
    """The router filter table's listing, None if there is none (read-only)."""
    if (router_rules.FAMILY, router_rules.TABLE) not in _tables(nft):
        return None
    return nft.list(f"table {router_rules.FAMILY} {router_rules.TABLE}")


def _get_link(ipr: IPRoute, ifname: str) -> Any | None:
    try:
        return ipr.link("get", ifname=ifname)[0]
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise


def _fabric_links(fab: IPRoute, ports: set[str] | frozenset[str] = frozenset()
                  ) -> dict[str, Any]:
    """The fabric's bridges and the named ports (those that exist), by name: the kernel lists
    the bridges alone (linkcount), so this costs the segments and the ports asked for, not
    the whole fabric."""
    out: dict[str, Any] = {}
    for index in linkcount.indexes(FABRIC, kind="bridge"):
        with contextlib.suppress(NetlinkError):
            for link in fab.link("get", index=index):
                if _kind(link) == "bridge":
                    out[link.get("ifname")] = link
    for name in ports:
        link = _get_link(fab, name)
        if link is not None:
            out[name] = link
    return out


def _ip(address: str) -> str:
    return address.split("/")[0]


class LinuxDataPlane:
    """The linux driver. `state_dir` holds pidfiles (run/), workload logs (logs/) and the
    sandboxed nodes' records and files (nodes/)."""

    # node operations at once: making a node mostly waits for the kernel (namespaces, bwrap,
    # cgroup migrations), and a few side by side fill two cores
    concurrency = 4

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self._fabric = SharedLock()  # see locks.py
        self._nodes = NodeLocks()
        self._guard_lock = threading.Lock()  # the guard table is declared once
        # the guard's elements as last listed, shared by observations (port_guard.Listing)
        self._guard_listing = port_guard.Listing(self._list_guard)
        self._sandboxes = Sandboxes(self.state_dir)
        self._procs = Processes(self.state_dir, self._sandboxes)
        self._prober = Prober()  # health checks in batches, HTTP connections kept (prober.py)

    def adopt(self) -> list[str]:
        """At the start of a control plane: kill what a crash of the previous one left that
        nothing can find again (a sandbox whose namespace never got its name)."""
        with self._fabric.exclusive():
            return self._sandboxes.collect_orphans()

    # ------------------------------------------------------------------ observe one object
    @_boundary("observe_node")
    def observe_node(self, netns: str) -> ObservedNode | None:
        if not ns.exists(netns) or netns == FABRIC:
            return None
        try:
            node = self._observe_node(netns)
        except (ns.NamespaceMissing, FileNotFoundError):
            return None  # deleted while we looked
        if node.own_network:
            want = self._guard_record(netns)
            node = dataclasses.replace(node, guarded=want is not None and (
                not want or ns.exists(FABRIC) and self._guard_listing.has(want)))
        return node

    @_boundary("has_node")
    def has_node(self, netns: str) -> bool:
        return netns != FABRIC and ns.exists(netns)

    @_boundary("observe_process")
    def observe_process(self, key: str) -> ObservedProcess | None:
        return self._procs.observe_one(key)

    @_boundary("observe_subnet")
    def observe_subnet(self, bridge: str) -> int | None:
        if not ns.exists(FABRIC):
            return None
        try:
            with _ipr(FABRIC) as fab:
                link = _get_link(fab, bridge)
            if link is None or _kind(link) != "bridge":
                return None
            return linkcount.count(FABRIC, master=link["index"])  # without parsing them
        except (ns.NamespaceMissing, FileNotFoundError):
            return None

    @_boundary("has_subnet")
    def has_subnet(self, bridge: str) -> bool:
        if not ns.exists(FABRIC):
            return False
        try:
            with _ipr(FABRIC) as fab:
                link = _get_link(fab, bridge)
        except (ns.NamespaceMissing, FileNotFoundError):
            return False
        return link is not None and _kind(link) == "bridge"

    @_boundary("observe_rules")
    def observe_rules(self) -> RulesObservation:
        if not ns.exists(FABRIC):
            return RulesObservation()
        try:
            _bridges, (fingerprint, seen, drift), _guard = self._observe_fabric()
        except (ns.NamespaceMissing, FileNotFoundError):
            return RulesObservation()
        return RulesObservation(fingerprint=fingerprint, seen=seen, drift=drift)

    @_boundary("inventory")
    def inventory(self, *, segments: bool = True) -> Inventory:
        """Names only: the namespaces' list, the fabric's links (one dump), the pidfiles."""
        namespaces = frozenset(n for n in ns.list_facade() if n != FABRIC)
        subnets: frozenset[str] = frozenset()
        if segments and ns.exists(FABRIC):
            try:
                with _ipr(FABRIC) as fab:
                    subnets = frozenset(n for n in _fabric_links(fab)
                                        if names.is_facade_link(n))
            except (ns.NamespaceMissing, FileNotFoundError):
                pass
        return Inventory(namespaces=namespaces, subnets=subnets, processes=self._procs.keys())

    # ------------------------------------------------------------------ observe the world
    @_boundary("observe")
    def observe(self) -> ObservedState:
        subnets: frozenset[str] = frozenset()
        rules: tuple[str | None, dict[str, tuple[PortRuleSpec, ...]] | None, tuple[str, ...]] = \
            (None, None, ())
        nodes: dict[str, ObservedNode] = {}
        guarded: set[port_guard.Entry] = set()
        for name in ns.list_facade():
            try:
                if name == FABRIC:
                    subnets, rules, guarded = self._observe_fabric()
                else:
                    nodes[name] = self._observe_node(name)
            except (ns.NamespaceMissing, FileNotFoundError):
                continue  # deleted while we looked
        for name, node in nodes.items():
            if node.own_network:
                want = self._guard_record(name)
                nodes[name] = dataclasses.replace(
                    node, guarded=want is not None and set(want) <= guarded)
        return ObservedState(subnets=subnets, nodes=nodes, processes=self._procs.observe(),
                             port_rules=rules[0], port_rules_seen=rules[1],
                             port_rules_drift=rules[2])

    def _observe_fabric(self) -> tuple[frozenset[str], tuple[str | None, dict[str, tuple[
            PortRuleSpec, ...]] | None, tuple[str, ...]], set[port_guard.Entry]]:
        """The fabric in one look (its links once, one nftables context): its bridges, the
        security rules read back (`_port_rules_of`) and the port guard's entries."""
        def read() -> tuple[list[dict[str, Any]], set[port_guard.Entry]]:
            with Nft() as nft:
                listing: list[dict[str, Any]] = []
                for key in sorted(_tables(nft)):
                    if key in ((port_rules.FAMILY, port_rules.TABLE),
                               (port_rules.CT_FAMILY, port_rules.CT_TABLE)):
                        listing += nft.list(f"table {key[0]} {key[1]}")
                return listing, _read_guard(nft)

        try:
            listing, guarded = ns.run_in_netns(FABRIC, read)
        except (ns.NamespaceMissing, FileNotFoundError):
            raise
        except (NftError, OSError):
            listing, guarded = None, set()
        reading = port_rules.read_back(
            [o for o in listing or [] if _family_of(o) == port_rules.FAMILY])
        with _ipr(FABRIC) as fab:  # the bridges, and the ports that have rules
            links = _fabric_links(fab, set(reading.rules))
        bridges = frozenset(n for n, lk in links.items()
                            if _kind(lk) == "bridge" and names.is_facade_link(n))
        if listing is None:
            # unreadable (the fabric is going away under us): no rules as far as we know; with
            # rules desired that means one more (atomic, harmless) replacement
            return bridges, (None, None, ()), set()
        return bridges, self._port_rules_of(listing, reading, links), guarded

    @staticmethod
    def _port_rules_of(listing: list[dict[str, Any]], reading: port_rules.Reading,
                       links: dict[str, Any]
                       ) -> tuple[str | None, dict[str, tuple[PortRuleSpec, ...]] | None,
                                  tuple[str, ...]]:
        """The rules tables read back (`reading`, of `listing`): the fingerprint recorded in
        them, the rules the port chains enforce, and how the tables and the bridges'
        br_netfilter flags differ from what `set_port_rules` makes of those rules (`links`: the
        bridges and the ports with rules)."""
        wanted = _bridges_of(links, set(reading.rules))
        drift = port_rules.differences(listing, reading.rules, wanted)
        flagged = {n for n, lk in links.items() if _kind(lk) == "bridge" and _nf_call(lk)}
        drift += [f"conntrack (br_netfilter) off on bridge {b}" for b in sorted(wanted - flagged)]
        drift += [f"conntrack (br_netfilter) on on bridge {b} without rules"
                  for b in sorted(flagged - wanted)]
        return reading.fingerprint, reading.rules, tuple(drift)

    @_boundary("set_port_rules")
    def set_port_rules(self, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
        """Replace every port's security rules in one nftables transaction; turn br_netfilter
        on for the bridges that carry a port with rules (conntrack for them), off elsewhere.
        Flags are raised before the new rules and lowered after them, so a rule never runs
        without the connection state it relies on."""
        rules = {port: rs for port, rs in rules.items() if rs}
        with self._fabric.exclusive():
            if not ns.exists(FABRIC):
                if rules:
                    raise DataPlaneError("set_port_rules: no fabric")
                return
            with _ipr(FABRIC) as fab:
                links = _fabric_links(fab, set(rules))
                wanted = _bridges_of(links, set(rules))
                bridges = {n: lk for n, lk in links.items()
                           if _kind(lk) == "bridge" and names.is_facade_link(n)}
                for name in sorted(wanted):
                    if not _nf_call(bridges[name]):
                        fab.link("set", index=bridges[name]["index"], kind="bridge",
                                 br_nf_call_iptables=1)

                def apply() -> None:
                    with Nft() as nft:
                        nft.apply(port_rules.table_commands(rules, wanted))

                ns.run_in_netns(FABRIC, apply)
                for name, link in sorted(bridges.items()):
                    if name not in wanted and _nf_call(link):
                        fab.link("set", index=link["index"], kind="bridge",
                                 br_nf_call_iptables=0)

    def _observe_node(self, name: str) -> ObservedNode:
        fingerprint = recorded = None
        frontend = router = False
        with _ipr(name) as ipr:
            links = {link["index"]: link for link in ipr.get_links()}
            addrs = ipr.get_addr(family=socket.AF_INET)
        ports = frozenset(link.get("ifname") for link in links.values() if _fabric_port(link))
        for link in links.values():
            if link.get("ifname") == "lo":
                alias = link.get("ifalias") or ""
                if alias.startswith(ALIAS_PREFIX):
                    # "facade:<fingerprint>", plus " fe:<digest of its nftables chains>"
                    fingerprint, _, tag = alias[len(ALIAS_PREFIX):].partition(" ")
                    frontend = tag.startswith(FE_TAG.strip())
                    router = tag.startswith(RT_TAG.strip())
                    recorded = tag.partition(":")[2] or None
        addresses = frozenset(
            (links[a["index"]].get("ifname"), f"{a.get('address')}/{a['prefixlen']}")
            for a in addrs
            if a["index"] in links and links[a["index"]].get("ifname") != "lo")
        backends = rotation_drift = rules_drift = None
        if frontend:
            backends, rotation_drift, digest = self._read_frontend(name)
            if backends is not None and digest != recorded:
                rules_drift = ("a chain is missing" if digest is None else
                               "chains not recorded yet" if recorded is None else
                               "chains changed since Facade wrote them")
        elif router:
            digest = ns.run_in_netns(name, _router_digest)
            if digest != recorded:
                rules_drift = ("router filter table missing" if digest is None else
                               "router filter changed since Facade wrote it")
        return ObservedNode(netns=name, fingerprint=fingerprint or None, addresses=addresses,
                            backends=backends, rotation_drift=rotation_drift,
                            rules_drift=rules_drift,
                            own_network=not router and ns.owned_by_child_userns(name),
                            ports=ports)

    @staticmethod
    def _read_frontend(name: str) -> tuple[tuple[str, ...] | None, str | None, str | None]:
        """A front-end's rotation (None: no map), how its map and `active` set differ from
        what set_backends writes for it (nft_rules.rotation_drift), and the digest of its
        chains (None: one is missing). Chain by chain: the meters' sets can be large."""
        def read() -> tuple[tuple[str, ...] | None, str | None, str | None]:
            elems: list[Any] | None = None
            active: list[Any] = []
            table = f"{nft_rules.FAMILY} {nft_rules.TABLE}"
            with Nft() as nft:
                try:
                    for obj in nft.list(f"map {table} {nft_rules.MAP}"):
                        if "map" in obj:
                            elems = list(obj["map"].get("elem", []))
                    for obj in nft.list(f"set {table} {nft_rules.ACTIVE}"):
                        if "set" in obj:
                            active = list(obj["set"].get("elem", []))
                except NftError:
                    if elems is None:
                        return None, None, None
                    return nft_rules.backends_from_elems(elems), "set active missing", None
                assert elems is not None
                chains: list[dict[str, Any]] | None = []
                for chain in nft_rules.CHAINS:
                    try:
                        chains = [*(chains or []), *nft.list(f"chain {table} {chain}")]
                    except NftError:
                        chains = None
                        break
            endpoint = nft_rules.endpoint_of(chains or [])
            return (nft_rules.backends_from_elems(elems),
                    nft_rules.rotation_drift(elems, active, endpoint),
                    nft_rules.chains_digest(chains) if chains is not None else None)

        return ns.run_in_netns(name, read)

    # ------------------------------------------------------------------ port security
    def _guard_record(self, netns: str) -> list[port_guard.Entry] | None:
        try:
            raw = json.loads((self._sandboxes.node_dir(netns) / "guard.json").read_text())
            return [port_guard.Entry(**e) for e in raw]
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def _guard(self, netns: str, entries: list[port_guard.Entry]) -> None:
        """Make the fabric guard exactly `entries` for this node's ports (port_guard.py),
        then record them with the node."""
        stale = [e for e in self._guard_record(netns) or [] if e not in entries]
        text = port_guard.remove_commands(stale) + port_guard.add_commands(entries)

        def apply() -> None:
            with Nft() as nft:
                with self._guard_lock:  # (its chain's listing would read the sets whole)
                    if not any(c.get("chain", {}).get("name") == "forward"
                               for c in nft.list(f"chains {port_guard.FAMILY}")
                               if c.get("chain", {}).get("table") == port_guard.TABLE):
                        nft.run(port_guard.DECLARATION)
                if text:
                    nft.run(text)

        try:
            ns.run_in_netns(FABRIC, apply)
        finally:
            self._guard_listing.changed()
        record = self._sandboxes.node_dir(netns) / "guard.json"
        if entries:
            record.write_text(json.dumps([dataclasses.asdict(e) for e in entries]))
        else:
            record.unlink(missing_ok=True)

    def _list_guard(self) -> set[port_guard.Entry]:
        """The guard's `addrs` elements, as the fabric has them now (none without a fabric or
        a table). A listing that fails otherwise (one that met a change of the set made beside
        it, under load) is asked again; one that keeps failing is an error, never "missing":
        a node made again for nothing, and a false "port security missing"."""
        def read() -> set[port_guard.Entry]:
            with Nft() as nft:
                for attempt in range(GUARD_READS):
                    try:
                        return port_guard.read_entries(nft.list(
                            f"set {port_guard.FAMILY} {port_guard.TABLE} {port_guard.ADDRS}"))
                    except NftError as exc:
                        if "No such file or directory" in str(exc):
                            return set()
                        if attempt == GUARD_READS - 1:
                            raise DataPlaneError(f"port guard: cannot list its elements: "
                                                 f"{exc}") from exc
            return set()  # pragma: no cover - the loop returns or raises

        if not ns.exists(FABRIC):
            return set()
        try:
            return ns.run_in_netns(FABRIC, read)
        except ns.NamespaceMissing:
            return set()

    # ------------------------------------------------------------------ subnets
    def _ensure_fabric(self) -> None:
        if not ns.exists(FABRIC):
            ns.create(FABRIC, then=lambda: ns.write_sysctls(_fabric_sysctls()))

    @_boundary("ensure_subnet")
    def ensure_subnet(self, spec: SubnetSpec) -> None:
        checks.check_ifname(spec.bridge)
        with self._fabric.exclusive():
            self._ensure_fabric()
            with _ipr(FABRIC) as fab:
                link = _get_link(fab, spec.bridge)
                if link is not None and _kind(link) != "bridge":
                    raise DataPlaneError(f"ensure_subnet {spec.bridge}: a {_kind(link)} link "
                                         "of that name exists in the fabric")
                if link is None:
                    fab.link("add", ifname=spec.bridge, kind="bridge", br_stp_state=0,
                             br_forward_delay=0)
                    link = _get_link(fab, spec.bridge)
                    assert link is not None
                if link.get("state") != "up":
                    fab.link("set", index=link["index"], state="up")

    @_boundary("delete_subnet")
    def delete_subnet(self, bridge: str) -> None:
        with self._fabric.exclusive():
            if not ns.exists(FABRIC):
                return
            with _ipr(FABRIC) as fab:
                link = _get_link(fab, bridge)
                if link is None:
                    return
                ports = linkcount.count(FABRIC, master=link["index"])
                if ports:
                    raise DataPlaneError(f"delete_subnet {bridge}: bridge still has ports "
                                         f"({ports})")
                fab.link("del", index=link["index"])
            if linkcount.count(FABRIC) <= 1:  # lo alone: the last segment went
                ns.remove(FABRIC)

    # ------------------------------------------------------------------ nodes
    @_boundary("ensure_node")
    def ensure_node(self, spec: NodeSpec) -> None:
        _check_node(spec)
        with self._fabric.shared(), self._nodes.hold(spec.netns), \
                contextlib.ExitStack() as stack:
            if not ns.exists(FABRIC):
                raise DataPlaneError(f"ensure_node {spec.netns}: no fabric; ensure the subnets "
                                     "first")
            fab = stack.enter_context(_ipr(FABRIC))
            for port in spec.ports:  # before anything is made: a missing bridge leaves nothing
                bridge = _get_link(fab, port.bridge)
                if bridge is None or _kind(bridge) != "bridge":
                    raise DataPlaneError(f"ensure_node {spec.netns}: no bridge {port.bridge} "
                                         f"for port {port.host}")
            box = spec.sandbox
            if box is not None and box.own_network and ns.exists(spec.netns) \
                    and not ns.owned_by_child_userns(spec.netns):
                self._delete_node(spec.netns)  # made before it had a sandbox: made again
            created = box is not None and self._sandboxes.prepare(spec.netns, box)
            if created:
                ns.run_in_netns(spec.netns, lambda: ns.write_sysctls(_base_sysctls()))
            elif not ns.exists(spec.netns):
                ns.create(spec.netns, then=lambda: ns.write_sysctls(_base_sysctls()))
                created = True
            if box is not None and box.own_network:
                # before its ports join their bridges: a tenant's port is never unguarded
                self._guard(spec.netns, _guard_entries(spec))
            with _ipr(spec.netns) as node:
                links, made = self._ensure_ports(spec, fab, node)
                if spec.role == "router":
                    _relearn(spec, fab, node, links, made)
                self._ensure_addresses(spec, node, links)
                self._ensure_routes(spec, node, links)
                self._ensure_rules(spec, node)
                for port in spec.ports:
                    if port.neighbours and port.mac:
                        neighbours.resolve(node, links[port.ifname]["index"], port.mac,
                                           port.neighbours)
                digest = ns.run_in_netns(spec.netns, lambda: self._inside_node(spec, created))
                tag = FE_TAG if spec.frontend is not None else RT_TAG
                alias = ALIAS_PREFIX + spec.fingerprint() + (f"{tag}:{digest}" if digest
                                                             else "")
                lo = links["lo"]
                if lo.get("ifalias") != alias or lo.get("state") != "up":
                    node.link("set", index=lo["index"], ifalias=alias, state="up")
            self._announce(spec)

    @staticmethod
    def _announce(spec: NodeSpec) -> None:
        """Tell the routers on the node's segments its addresses (neighbours.py): one socket
        per router, however many of the node's legs it has."""
        by_router: dict[str, list[PortSpec]] = {}
        for port in spec.ports:
            if port.announce is not None and port.mac:
                by_router.setdefault(port.announce.netns, []).append(port)
        for netns, ports in by_router.items():
            with contextlib.suppress(ns.NamespaceMissing), _ipr(netns) as ipr:
                for port in ports:
                    assert port.announce is not None and port.mac
                    neighbours.announce(ipr, port.announce, _ip(port.address), port.mac)

    @staticmethod
    def _withdraw(netns: str) -> None:
        """Take back what the node's ports announced (their fabric ends' aliases say what)."""
        with contextlib.suppress(ns.NamespaceMissing), _ipr(netns) as node, \
                _ipr(FABRIC) as fab:
            ends = []
            for link in node.get_links():
                if _fabric_port(link) and link.get("link"):
                    with contextlib.suppress(NetlinkError):
                        ends.extend(fab.link("get", index=link.get("link")))
        for leg, ip in neighbours.announced(ends):
            with contextlib.suppress(ns.NamespaceMissing), _ipr(leg.netns) as ipr:
                neighbours.withdraw(ipr, leg, ip)

    def _ensure_ports(self, spec: NodeSpec, fab: IPRoute, node: IPRoute
                      ) -> tuple[dict[str, Any], set[str]]:
        """Veth pairs for every port, nothing else in the node; returns the node's links and
        the ports made now."""
        node_links = _links(node)
        wanted = {p.ifname for p in spec.ports}
        bridges: dict[str, Any] = {}
        for port in spec.ports:
            bridge = bridges.get(port.bridge) or _get_link(fab, port.bridge)
            if bridge is None or _kind(bridge) != "bridge":
                raise DataPlaneError(f"ensure_node {spec.netns}: no bridge {port.bridge} for "
                                     f"port {port.host}")
            bridges[port.bridge] = bridge
        changed = False
        tenant = _tenant_network(spec)
        for name, link in node_links.items():
            if name != "lo" and name not in wanted and (not tenant or _fabric_port(link)):
                # a tenant's own network keeps the links it made (not facing the fabric)
                node.link("del", index=link["index"])  # its fabric peer goes with it
                changed = True
        hosts: dict[str, Any] = {}
        made: set[str] = set()
        for port in spec.ports:
            host = _get_link(fab, port.host)
            inner = node_links.get(port.ifname)
            paired = (host is not None and inner is not None and _kind(host) == "veth"
                      and host.get("link") == inner["index"]
                      and inner.get("link") == host["index"])
            if not paired:
                if inner is not None:
                    node.link("del", index=inner["index"])  # takes its peer with it
                stale = _get_link(fab, port.host)
                if stale is not None:
                    fab.link("del", index=stale["index"])
                fd = os.open(ns.path(spec.netns), os.O_RDONLY | os.O_CLOEXEC)
                try:
                    fab.link("add", ifname=port.host, kind="veth",
                             peer={"ifname": port.ifname, "net_ns_fd": fd})
                finally:
                    os.close(fd)
                host = _get_link(fab, port.host)
                made.add(port.ifname)
                changed = True
            assert host is not None
            hosts[port.host] = host
        if changed:
            node_links = _links(node)
        for port in spec.ports:
            host = hosts[port.host]
            br_index = bridges[port.bridge]["index"]
            if host.get("master") != br_index or host.get("state") != "up":
                fab.link("set", index=host["index"], master=br_index, state="up")
            announced = neighbours.alias(port.announce, _ip(port.address)) \
                if port.announce is not None else None
            if host.get("ifalias") != announced and (announced or host.get("ifalias")):
                fab.link("set", index=host["index"], ifalias=announced or "")
            inner = node_links[port.ifname]
            if port.mac and inner.get("address") != port.mac:
                node.link("set", index=inner["index"], address=port.mac)
            if inner.get("state") != "up":
                node.link("set", index=inner["index"], state="up")
        return node_links, made

    def _ensure_addresses(self, spec: NodeSpec, node: IPRoute, links: dict[str, Any]) -> None:
        existing: dict[int, list[Any]] = {}
        for a in node.get_addr(family=socket.AF_INET):
            existing.setdefault(a["index"], []).append(a)
        for k, port in enumerate(spec.ports):
            iface = ipaddress.ip_interface(port.address)
            # a secondary port's subnet route lives in its own table only, unless `connected`
            noprefix = k > 0 and spec.role != "router" and not port.connected
            index = links[port.ifname]["index"]
            present = False
            for a in existing.get(index, []):
                flags = a.get("IFA_FLAGS") or a["flags"]
                same = (a.get("address") == str(iface.ip) and a["prefixlen"] ==
                        iface.network.prefixlen
                        and bool(flags & IFA_F_NOPREFIXROUTE) == noprefix)
                if same and not present:
                    present = True
                elif not _tenant_network(spec) or a.get("address") == str(iface.ip):
                    # in a tenant's own network only a wrong copy of Facade's address goes
                    node.addr("del", index=index, address=a.get("address"),
                              prefixlen=a["prefixlen"])
            if not present:
                kwargs: dict[str, Any] = {}
                if noprefix:
                    kwargs["flags"] = IFA_F_NOPREFIXROUTE
                node.addr("add", index=index, address=str(iface.ip),
                          prefixlen=iface.network.prefixlen, **kwargs)

    def _ensure_routes(self, spec: NodeSpec, node: IPRoute, links: dict[str, Any]) -> None:
        desired: list[tuple[int, str | None, int, int, str | None, str | None, int]] = []
        for k, port in enumerate(spec.ports):
            oif = links[port.ifname]["index"]
            iface = ipaddress.ip_interface(port.address)
            if spec.role == "router":
                desired += _router_routes(spec, port, oif)
                continue
            if k == 0:
                if port.gateway:
                    desired.append((RT_TABLE_MAIN, None, 0, oif, port.gateway, None, 0))
                if spec.frontend is None:
                    continue
            table = TABLE_BASE + k
            desired.append((table, str(iface.network.network_address), iface.network.prefixlen,
                            oif, None, str(iface.ip), RT_SCOPE_LINK))
            if port.gateway:
                desired.append((table, None, 0, oif, port.gateway, None, 0))
        existing = []
        tenant = _tenant_network(spec)
        proto = RTPROT_FACADE if tenant else RTPROT_STATIC
        for r in node.route("dump", family=socket.AF_INET):
            table = r.get("table")
            managed = (table == RT_TABLE_MAIN and r["proto"] != RTPROT_KERNEL) or (
                table is not None and TABLE_BASE <= table < TABLE_BASE + 100)
            if tenant:  # the tenant's own routes are its business
                managed = r["proto"] == RTPROT_FACADE
            if not managed:
                continue
            existing.append((table, r.get("dst"), r["dst_len"], r.get("oif"), r.get("gateway"),
                             r.get("prefsrc"), r["scope"]))
        for key in existing:
            if key not in desired:
                node.route("del", **_route_args(key))
        for key in desired:  # connected routes come before the gateways that need them
            if key not in existing:
                node.route("add", proto=proto, **_route_args(key))

    def _ensure_rules(self, spec: NodeSpec, node: IPRoute) -> None:
        desired: list[tuple[int, str | None, int, int | None, str | None, int]] = []
        tables: dict[str, int] = {}
        for k, port in enumerate(spec.ports):
            tables[port.ifname] = RT_TABLE_MAIN if (k == 0 or spec.role == "router") \
                else TABLE_BASE + k
            if k > 0 and spec.role != "router":
                desired.append((RULE_FROM_BASE + k, _ip(port.address), 32, None, None,
                                TABLE_BASE + k))
        fe = spec.frontend
        if fe is not None:
            # Marked traffic is routed before the local table is consulted: with overlapping
            # subnets a backend may have the endpoint's address, or a client the front-end's
            # backend-side one, and such packets must still be forwarded, not delivered here.
            customer = next(k for k, p in enumerate(spec.ports) if p.ifname == fe.customer_if)
            desired.append((RULE_FWMARK, None, 0, nft_rules.MARK, None, tables[fe.backend_if]))
            desired.append((RULE_REPLY_MARK, None, 0, nft_rules.REPLY_MARK, None,
                            TABLE_BASE + customer))
            desired.append((RULE_LOCAL, None, 0, None, None, RT_TABLE_LOCAL))
        existing = []
        ours = {key[0] for key in desired}
        for r in node.get_rules(family=socket.AF_INET):
            prio = r.get("priority") or 0
            if prio not in MANAGED_RULES:
                continue
            if _tenant_network(spec) and prio not in ours and prio not in TENANT_RESERVED:
                continue  # a rule the tenant added to its own network
            existing.append((prio, r.get("src"), r["src_len"], r.get("fwmark"), r.get("iifname"),
                             r.get("table")))
        for key in existing:
            if key not in desired:
                node.rule("del", **_rule_args(key))
        for key in desired:
            if key not in existing:
                node.rule("add", **_rule_args(key))
        if fe is not None:
            for r in node.get_rules(family=socket.AF_INET):
                if (r.get("priority") or 0) == 0 and r.get("table") == RT_TABLE_LOCAL:
                    node.rule("del", priority=0, table=RT_TABLE_LOCAL, family=socket.AF_INET)

    def _inside_node(self, spec: NodeSpec, created: bool) -> str | None:
        """Runs in a thread inside the node: sysctls and nftables. Only read-only nft commands
        when nothing changes (a failed or no-op nft transaction still costs milliseconds).
        Returns a front-end's (or a filtering router's) chains digest, as the kernel lists them
        now (for observe)."""
        ns.write_sysctls(_node_sysctls(spec))
        if spec.role == "router":
            return _ensure_router_filter(spec, created)
        fe = spec.frontend
        if fe is not None:
            backend_port = next(p for p in spec.ports if p.ifname == fe.backend_if)
            source = _ip(backend_port.address)
            with Nft() as nft:
                listing = _list_fe_table(nft)
                if listing is None or not nft_rules.is_declared(listing):
                    nft.run(nft_rules.MAP_DECLARATION)
                    listing = []
                if not nft_rules.is_current(listing, fe, source):
                    nft.apply(nft_rules.table_commands(fe, source))
                    listing = _list_fe_table(nft) or []
                return nft_rules.chains_digest(listing)
        elif not created:
            with Nft() as nft:
                if _list_fe_table(nft) is not None:
                    nft.run(f"delete table {nft_rules.FAMILY} {nft_rules.TABLE}")
        return None

    @_boundary("delete_node")
    def delete_node(self, netns: str) -> None:
        with self._fabric.shared(), self._nodes.hold(netns):
            self._delete_node(netns)

    def _delete_node(self, netns: str) -> list[str]:
        removed: list[str] = []
        entries = self._guard_record(netns)
        if entries and ns.exists(FABRIC):
            self._guard(netns, [])
            removed.append(f"port guard of {netns}")
        if ns.exists(netns):
            if ns.exists(FABRIC):
                self._withdraw(netns)
            for pid in self._procs.kill_netns(netns):
                removed.append(f"process {pid}")
            with contextlib.suppress(ns.NamespaceMissing), _ipr(netns) as node:
                _delete_links(node, [link["index"] for link in node.get_links()
                                     if link.get("ifname") != "lo"])
        if ns.remove(netns):  # the namespace's name, or a name left without one
            removed.append(f"netns {netns}")
        self._prober.forget(netns)  # a kept probe connection would keep the namespace alive
        for pf in self._procs.in_netns(netns):
            self._procs.remove_pidfile(pf.key, pf.netns)
        self._procs.reap()
        removed += self._sandboxes.remove(netns)
        return removed

    @_boundary("set_backends")
    def set_backends(self, netns: str, backends: tuple[str, ...]) -> None:
        for b in backends:
            ipaddress.IPv4Address(b)
        with self._fabric.shared(), self._nodes.hold(netns):
            if not ns.exists(netns):
                raise DataPlaneError(f"set_backends {netns}: no front-end {netns}")

            def apply() -> tuple[str, str] | None:
                """The map replaced; returns the front-end's backend leg and address."""
                with Nft() as nft:
                    try:
                        listing = _list_fe_table(nft) or []
                        endpoint = nft_rules.endpoint_of(listing)
                        if endpoint is None:
                            raise NftError("no front-end table")
                        nft.apply(nft_rules.map_commands(tuple(backends), endpoint))
                    except NftError as exc:
                        raise fatal(f"set_backends {netns}: not a front-end "
                                    f"(nft: {exc})") from exc
                return nft_rules.backend_leg_of(listing)

            leg = ns.run_in_netns(netns, apply)
            with _ipr(netns) as fe:  # the rotation resolves without ARP (neighbours.py)
                link = _get_link(fe, leg[0]) if leg else None
                mac = link.get("address") if link is not None else None
                if link is not None and leg and mac and neighbours.on_segment(mac, leg[1]):
                    neighbours.resolve(fe, link["index"], mac, backends, exactly=True)

    # ------------------------------------------------------------------ processes
    @_boundary("start_process")
    def start_process(self, spec: ProcessSpec) -> int:
        with self._fabric.shared(), self._nodes.hold(spec.netns):
            if not ns.exists(spec.netns):
                raise DataPlaneError(f"start_process {spec.key}: no node {spec.netns}")
            old = self._procs.read(spec.key)
            if old is not None and self._procs.alive(old):
                self._procs.stop(spec.key)
            try:
                return self._procs.start(spec)
            except NoSandbox as exc:  # the node was made without one: only a change helps
                raise fatal(f"start_process {spec.key}: {exc}") from exc

    @_boundary("stop_process")
    def stop_process(self, key: str) -> None:
        with self._fabric.shared():
            self._procs.stop(key)

    # ------------------------------------------------------------------ exec and probes
    def exec(self, netns: str, argv: list[str], *, timeout: float = 30.0,
             stdin: str | None = None, host: bool = False) -> ExecResult:
        if not ns.exists(netns):
            return ExecResult(returncode=255, stdout="", stderr=f"no namespace {netns}\n")
        stdin_mode = subprocess.PIPE if stdin is not None else subprocess.DEVNULL
        victim: int | None = None  # the process group to kill on a timeout
        try:
            if host:
                proc = subprocess.Popen(
                    ["ip", "netns", "exec", netns, *argv], stdin=stdin_mode,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
                    start_new_session=True)
                victim = proc.pid
                wait_entered(proc.pid, netns)
                ns.SCAN.spawned()
            else:
                # the node's init may have to be started
                with self._fabric.shared(), self._nodes.hold(netns):
                    launched = self._sandboxes.launch(
                        netns, argv, stdin=stdin_mode, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, die_with_parent=True)
                proc, victim = launched.monitor, launched.pid
        except NoSandbox:
            return ExecResult(returncode=255, stdout="", stderr=f"node {netns} has no sandbox "
                              "yet; try again in a moment\n")
        except (OSError, DataPlaneError) as exc:
            return ExecResult(returncode=255, stdout="", stderr=f"{exc}\n")
        try:
            out, err = proc.communicate(stdin.encode() if stdin is not None else None,
                                        timeout=timeout)
        except subprocess.TimeoutExpired:
            for pgid in {proc.pid} | ({victim} if victim is not None else set()):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = b"", b""
                proc.wait()
            return ExecResult(returncode=proc.returncode if proc.returncode is not None else -9,
                              stdout=out.decode(errors="replace"),
                              stderr=err.decode(errors="replace"), timed_out=True)
        return ExecResult(returncode=proc.returncode, stdout=out.decode(errors="replace"),
                          stderr=err.decode(errors="replace"))

    def _connect(self, netns: str, ip: str, port: int, timeout: float
                 ) -> tuple[socket.socket | None, ProbeResult | None]:
        try:
            sock = ns.socket_in(netns, socket.AF_INET, socket.SOCK_STREAM)
        except (ns.NamespaceMissing, FileNotFoundError):
            return None, ProbeResult(ok=False, detail=f"no namespace {netns}")
        except OSError as exc:
            return None, ProbeResult(ok=False, detail=f"socket: {exc.strerror or exc}")
        sock.settimeout(timeout)
        try:
            sock.connect((ip, port))
        except TimeoutError:
            sock.close()
            return None, ProbeResult(ok=False, detail="timed out")
        except OSError as exc:
            sock.close()
            return None, ProbeResult(ok=False, detail=_net_error(exc))
        return sock, None

    def tcp_probe(self, netns: str, ip: str, port: int, *, timeout: float = 1.0) -> ProbeResult:
        sock, failed = self._connect(netns, ip, port, timeout)
        if sock is None:
            assert failed is not None
            return failed
        sock.close()
        return ProbeResult(ok=True, detail="connected")

    def http_request(self, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult:
        sock, failed = self._connect(netns, ip, port, timeout)
        if sock is None:
            assert failed is not None
            return failed
        with sock:
            return _http_exchange(sock, ip, port, path, method, body, headers or {})

    def probe_many(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        return self._prober.run(probes)

    # ------------------------------------------------------------------ cleanup
    def cleanup(self) -> list[str]:
        self._prober.close()
        with self._fabric.exclusive():
            removed: list[str] = []
            for name in ns.list_facade():
                if name != FABRIC:
                    try:
                        removed.extend(self._delete_node(name))
                    except (NetlinkError, OSError) as exc:
                        raise DataPlaneError(f"cleanup {name}: {_describe(exc)}") from exc
            if ns.exists(FABRIC):
                for pid in self._procs.kill_netns(FABRIC):
                    removed.append(f"process {pid}")
            if ns.remove(FABRIC):
                removed.append(f"netns {FABRIC}")
            for pf in self._procs.all():
                if starttime(pf.pid) == pf.starttime:
                    self._procs.kill_pids([pf.pid], grace=0.0, group=True)
                    removed.append(f"process {pf.pid}")
                self._procs.remove_pidfile(pf.key, pf.netns)
                removed.append(f"pidfile {pf.key}")
            self._procs.drop_index()
            self._procs.reap()
            removed += self._sandboxes.cleanup()
            self._guard_listing.changed()
            return removed


# ---------------------------------------------------------------------- helpers
def _relearn(spec: NodeSpec, fab: IPRoute, router: IPRoute, links: dict[str, Any],
             made: set[str]) -> None:
    """A router leg made now (a new subnet, or the router made again after drift) learns what
    the ports already on its segment announce (neighbours.py): their fabric ends' aliases say.
    Only that segment's ports are read (the kernel filters the dump by master)."""
    for port in spec.ports:
        if port.ifname not in made or not port.mac:
            continue
        bridge = _get_link(fab, port.bridge)
        if bridge is None:
            continue
        ends = []
        for index in linkcount.indexes(FABRIC, master=bridge["index"]):  # its ports alone
            with contextlib.suppress(NetlinkError):
                ends.extend(fab.link("get", index=index))
        ips = [ip for leg, ip in neighbours.announced(ends) if leg.ifname == port.ifname
               and leg.netns == spec.netns]
        neighbours.resolve(router, links[port.ifname]["index"], port.mac, ips)


def _tenant_network(spec: NodeSpec) -> bool:
    """The node's network belongs to its tenant (SandboxSpec.own_network): Facade keeps its
    own ports, addresses, routes and rules there and leaves the tenant's alone."""
    return spec.sandbox is not None and spec.sandbox.own_network


def _fabric_port(link: Any) -> bool:
    """A veth whose other end is in another namespace: one of Facade's ports (a tenant can
    make links only inside its own namespace)."""
    return _kind(link) == "veth" and link.get_attr("IFLA_LINK_NETNSID") is not None


def _guard_entries(spec: NodeSpec) -> list[port_guard.Entry]:
    return [port_guard.Entry(port=p.host, mac=p.mac or "", ip=_ip(p.address))
            for p in spec.ports if p.mac]


def _read_guard(nft: Nft) -> set[port_guard.Entry]:
    """In the fabric: the guard's `addrs` elements (none if the table is missing)."""
    try:
        return port_guard.read_entries(
            nft.list(f"set {port_guard.FAMILY} {port_guard.TABLE} {port_guard.ADDRS}"))
    except NftError:
        return set()


def _family_of(obj: dict[str, Any]) -> str | None:
    """The family of one object of an nft listing (its table's family)."""
    body = next(iter(obj.values()), None)
    return str(body.get("family")) if isinstance(body, dict) and "family" in body else None


def _nf_call(link: Any) -> bool:
    """Whether a bridge sends its IPv4 frames through br_netfilter (IFLA_BR_NF_CALL_IPTABLES)."""
    info = link.get_attr("IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    value = data.get_attr("IFLA_BR_NF_CALL_IPTABLES") if data is not None else None
    return bool(value)


def _bridges_of(links: dict[str, Any], ports: set[str]) -> set[str]:
    """The bridges that the given ports are enslaved to (ports that do not exist are skipped)."""
    by_index = {lk["index"]: n for n, lk in links.items()}
    return {by_index[lk.get("master")] for n, lk in links.items()
            if n in ports and lk.get("master") in by_index}


def _router_digest() -> str | None:
    """Inside a router: the digest of its filter table, None if there is none."""
    with Nft() as nft:
        listing = _list_rt_table(nft)
    return router_rules.digest(listing) if listing is not None else None


def _ensure_router_filter(spec: NodeSpec, created: bool) -> str | None:
    """Inside a router: the filter table exactly as desired, or none when no leg is isolated.
    Writes only when the kernel's table differs; returns its digest (None: no table)."""
    wanted = router_rules.wanted(spec)
    with Nft() as nft:
        listing = None if created and not wanted else _list_rt_table(nft)
        if not wanted:
            if listing is not None:
                nft.run(router_rules.delete_command())
                if "prerouting" in router_rules.parse_table(listing)[0]:
                    conntrack.forget_stale(None, None)  # a gateway no more
            return None
        if listing is None or not router_rules.is_current(listing, spec):
            present = router_rules.parse_table(listing)[0] if listing is not None else {}
            nft.apply(router_rules.table_commands(spec, present))
            if spec.gateway is not None or "prerouting" in present:
                conntrack.forget_stale(spec.gateway, _gateway_leg_ip(spec))
            listing = _list_rt_table(nft) or []
        return router_rules.digest(listing)


def _gateway_leg_ip(spec: NodeSpec) -> str | None:
    gw = spec.gateway
    leg = next((p for p in spec.ports if gw is not None and p.ifname == gw.ifname), None)
    return _ip(leg.address) if leg is not None else None


def _check_node(spec: NodeSpec) -> None:
    checks.check_node(spec)
    try:
        router_rules.isolated_legs(spec)
    except ValueError as exc:
        raise fatal(f"ensure_node {exc}") from exc


def _base_sysctls() -> dict[str, str]:
    return {"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"}


def _fabric_sysctls() -> dict[str, str]:
    """Bridged frames must not climb into the fabric's IP and ARP hooks (br_netfilter, where the
    kernel has it, defaults to that in every namespace): it costs about 6 % of the throughput
    through a front-end, which crosses two bridges. Only bridges carrying a port with security
    rules turn it on, per bridge (`nf_call_iptables`), for conntrack (see set_port_rules).
    Per namespace since Linux 5.3; the host's own setting is not touched."""
    values = _base_sysctls()
    for key in ("iptables", "ip6tables", "arptables"):
        values[f"net/bridge/bridge-nf-call-{key}"] = "0"
    return values


def _node_sysctls(spec: NodeSpec) -> dict[str, str]:
    values = _base_sysctls()
    if spec.role == "frontend":
        values["net/ipv4/ip_forward"] = "1"
        for conf in ("all", "default", *(p.ifname for p in spec.ports)):
            values[f"net/ipv4/conf/{conf}/rp_filter"] = "0"
            # a client may use the front-end's backend-side address (and a backend the
            # endpoint's): such sources are not martians here
            values[f"net/ipv4/conf/{conf}/accept_local"] = "1"
        for conf in ("all", "default"):
            values[f"net/ipv4/conf/{conf}/arp_ignore"] = "1"
            values[f"net/ipv4/conf/{conf}/arp_announce"] = "2"
    elif spec.role == "router":
        values["net/ipv4/ip_forward"] = "1"
        # the Internet core forwards back out of the leg a packet came in by: it must not
        # teach external hosts a shortcut (a remapped address would keep the old one)
        for conf in ("all", "default", *(p.ifname for p in spec.ports)):
            values[f"net/ipv4/conf/{conf}/send_redirects"] = "0"
    else:
        values["net/ipv4/ip_forward"] = "0"
    return values


def _router_routes(spec: NodeSpec, port: PortSpec, oif: int
                   ) -> list[tuple[int, str | None, int, int, str | None, str | None, int]]:
    """A router's routes by one of its legs: a public gateway's default route (by its leg on
    the intermediate network) and the static routes whose next hop is on the leg's segment
    (the Internet core's public addresses)."""
    out: list[tuple[int, str | None, int, int, str | None, str | None, int]] = []
    gw = spec.gateway
    if gw is not None and gw.ifname == port.ifname:
        out.append((RT_TABLE_MAIN, None, 0, oif, gw.via, None, 0))
    segment = ipaddress.ip_interface(port.address).network
    for prefix, via in spec.routes:
        if ipaddress.ip_address(via) in segment:
            net = ipaddress.ip_network(prefix)
            out.append((RT_TABLE_MAIN, str(net.network_address), net.prefixlen, oif, via, None,
                        0))
    return out


def _route_args(key: tuple[int, str | None, int, int, str | None, str | None, int]
                ) -> dict[str, Any]:
    table, dst, dst_len, oif, gateway, prefsrc, scope = key
    args: dict[str, Any] = {"table": table, "dst_len": dst_len, "oif": oif, "scope": scope}
    args["dst"] = dst if dst is not None else "0.0.0.0"
    if gateway:
        args["gateway"] = gateway
    if prefsrc:
        args["prefsrc"] = prefsrc
    return args


def _rule_args(key: tuple[int, str | None, int, int | None, str | None, int]) -> dict[str, Any]:
    prio, src, src_len, fwmark, iifname, table = key
    args: dict[str, Any] = {"priority": prio, "table": table, "family": socket.AF_INET}
    if src:
        args["src"] = src
        args["src_len"] = src_len
    if fwmark is not None:
        args["fwmark"] = fwmark
    if iifname:
        args["iifname"] = iifname
    return args


def _net_error(exc: OSError) -> str:
    return net_error(exc.errno or 0, exc.strerror or str(exc))


def _http_exchange(sock: socket.socket, ip: str, port: int, path: str, method: str,
                   body: bytes | None, headers: dict[str, str]) -> ProbeResult:
    """One request on a connected socket and its answer, on http.client with caps
    (`facade.bounded_http`: head 64 KiB, body 1 MiB); every failure is a ProbeResult."""
    fields = [("Host", f"{ip}:{port}"), ("Connection", "close"), ("User-Agent", "facade-probe")]
    for name, value in headers.items():
        if "\r" in name + value or "\n" in name + value:
            return ProbeResult(ok=False, detail=f"bad header {name!r}")
        fields.append((name, value))
    status: int | None = None
    answer_headers: dict[str, str] = {}
    try:
        answer = bounded_http.exchange(sock, ip, port, method, path, fields, body)
        status = answer.status
        answer_headers = {k.lower(): v.strip() for k, v in answer.getheaders()}
        data = bounded_http.read_body(answer)
    except ValueError as exc:  # before sending: a method, path or field http.client refuses
        return ProbeResult(ok=False, detail=f"cannot send the request: {exc}")
    except bounded_http.TooLarge as exc:
        return ProbeResult(ok=False, detail=f"{exc}" if status is None
                           else f"HTTP {status}, {exc}", status=status, headers=answer_headers)
    except http.client.RemoteDisconnected:
        return ProbeResult(ok=False, detail="empty response")
    except http.client.BadStatusLine as exc:
        line = str(exc.args[0] if exc.args else "").rstrip("\r\n")
        return ProbeResult(ok=False, detail=f"bad status line {line!r}"
                           if line.startswith("HTTP/") else "bad HTTP response")
    except http.client.HTTPException as exc:
        return ProbeResult(ok=False, detail=f"bad HTTP response: {exc}")
    except TimeoutError:
        return ProbeResult(ok=False, detail="timed out")
    except OSError as exc:
        return ProbeResult(ok=False, detail=_net_error(exc))
    return ProbeResult(ok=200 <= status < 300, detail=f"HTTP {status}", status=status,
                       body=data.decode(errors="replace"), headers=answer_headers)
