"""LinuxDataPlane: the `DataPlane` protocol on real Linux networking, a thin facade over the
driver's role modules. It holds the driver's state (locks, sandboxes, processes, the port guard,
the prober), takes the locks, translates kernel errors once (`_boundary`) and delegates:
- links.py: netlink in a namespace, the fabric's bridges, a node's veth ports;
- routes.py: a node's addresses, routes and policy rules; sysctls.py: its sysctls;
- node_tables.py: a front-end's and a router's nftables, and the rotation;
- fabric_rules.py: the security rules in the fabric; fabric_guard.py: port security;
- nodes.py: making and deleting a node; observe.py: reading it all back;
- commands.py: `exec`; probes.py: `tcp_probe` and `http_request` (batches: prober.py).

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

import functools
import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from facade.dataplane import checks
from facade.dataplane.linux import (
    commands,
    fabric_rules,
    hostplane,
    links,
    node_tables,
    nodes,
    observe,
    probes,
    simhosts,
)
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError, fatal
from facade.dataplane.linux.fabric_guard import FabricGuard
from facade.dataplane.linux.links import FABRIC
from facade.dataplane.linux.locks import NodeLocks, SharedLock
from facade.dataplane.linux.nft import NftError
from facade.dataplane.linux.prober import Prober
from facade.dataplane.linux.processes import Processes, starttime
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
    Probe,
    ProbeResult,
    ProcessSpec,
    RulesObservation,
    SubnetSpec,
)

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

log = logging.getLogger("facade.dataplane")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, NetlinkError):
        return f"netlink error {exc.code} ({os.strerror(exc.code)})"
    return str(exc) or type(exc).__name__


class LinuxDataPlane:
    """The linux driver. `state_dir` holds pidfiles (run/), workload logs (logs/) and the
    sandboxed nodes' records and files (nodes/). `cleanup()` removes every control plane's
    control groups, sandbox processes and bridges on the host; with `this_plane_only`, this
    plane's only (the namespaces it can see are all removed either way): for a control plane
    beside others on one host, in a network, mount and PID namespace of its own (a test run
    in a sandbox), whose neighbours' groups are in the host's cgroup hierarchies."""

    # node operations at once: making a node mostly waits for the kernel (namespaces, bwrap,
    # cgroup migrations), and a few side by side fill two cores
    concurrency = 4
    # this driver keeps the overlay's shared part (the reflector, the fabric's leg, FRR and
    # VXLAN ports): the control plane's; a host's agent's does not (agent_host.py)
    overlay_hub = True

    def __init__(self, state_dir: Path, *, this_plane_only: bool = False) -> None:
        self.state_dir = Path(state_dir)
        self.this_plane_only = this_plane_only
        self._fabric = SharedLock()  # see locks.py
        self._nodes = NodeLocks()
        self._sandboxes = Sandboxes(self.state_dir)
        self._guard = FabricGuard(self._sandboxes)  # port security in the fabric
        self._procs = Processes(self.state_dir, self._sandboxes)
        self._prober = Prober()  # health checks in batches, HTTP connections kept (prober.py)
        self._teardowns = nodes.Teardowns()  # deleted nodes whose ports are still going
        # the simulated hosts whose kernel their agents change (the routed plane says:
        # `delegate`): their namespaces are left to them (rules, observe)
        self._delegated: Callable[[], Collection[str]] = tuple

    def delegate(self, hosts: Callable[[], Collection[str]]) -> None:
        """`hosts()` names, when asked, the hosts whose agents change their kernels: this
        driver then writes no rules in their namespaces and observes none of their nodes
        (dataplane/routed.py calls it once)."""
        self._delegated = hosts

    def adopt(self) -> list[str]:
        """At the start of a control plane: kill what a crash of the previous one left that
        nothing can find again (a sandbox whose namespace never got its name, a program
        started but not recorded)."""
        with self._fabric.exclusive():
            return self._procs.collect_unrecorded()

    # ------------------------------------------------------------------ observe one object
    @_boundary("observe_node")
    def observe_node(self, netns: str) -> ObservedNode | None:
        return observe.observe_node(netns, self._guard)

    @_boundary("has_node")
    def has_node(self, netns: str) -> bool:
        return observe.has_node(netns)

    @_boundary("gateway_counters")
    def gateway_counters(self, netns: str) -> dict[str, tuple[str, int]] | None:
        return node_tables.read_gateway_counters(netns)

    @_boundary("observe_process")
    def observe_process(self, key: str) -> ObservedProcess | None:
        return self._procs.observe_one(key)

    @_boundary("observe_subnet")
    def observe_subnet(self, bridge: str) -> int | None:
        return observe.observe_subnet(bridge)

    @_boundary("has_subnet")
    def has_subnet(self, bridge: str) -> bool:
        return observe.has_subnet(bridge)

    @_boundary("observe_rules")
    def observe_rules(self) -> RulesObservation:
        return observe.observe_rules(skip=self._skipped())

    def _skipped(self) -> frozenset[str]:
        """The namespaces of the hosts delegated to their agents."""
        return frozenset(map(names.host_netns, self._delegated()))

    @_boundary("inventory")
    def inventory(self, *, segments: bool = True) -> Inventory:
        """Names only: the namespaces' list, the fabric's links (one dump), the pidfiles (a
        host's agent: its host's nodes and its own pidfiles, no subnets)."""
        own = self._own_nodes()
        if own is not None:
            return Inventory(namespaces=own, processes=self._procs.keys())
        return observe.inventory(self._procs, segments=segments)

    def _own_nodes(self) -> frozenset[str] | None:
        """The nodes this driver lists (None: every one this machine has; a host's agent:
        those on its host, agent_host.py)."""
        return None

    # ------------------------------------------------------------------ observe the world
    @_boundary("observe")
    def observe(self) -> ObservedState:
        return observe.observe(self._procs, self._guard, skip_hosts=frozenset(self._delegated()),
                               only=self._own_nodes())

    # ------------------------------------------------------------------ port security
    @_boundary("set_port_rules")
    def set_port_rules(self, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
        """Replace every port's security rules in one nftables transaction (fabric_rules.py)."""
        with self._fabric.exclusive():
            fabric_rules.set_port_rules(rules, skip=self._skipped())

    @_boundary("set_port_rules")
    def set_host_port_rules(self, host: str,
                            rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
        """The rules in host HOST's namespace only (a host agent's: agent_host.py)."""
        with self._fabric.exclusive():
            fabric_rules.set_port_rules_in(names.host_netns(host), rules)

    @_boundary("observe_rules")
    def observe_host_rules(self, host: str) -> RulesObservation:
        """The rules of host HOST's namespace, read back (a host agent's: agent_host.py)."""
        _, (fingerprint, seen, drift), _ = fabric_rules.observe_fabric(names.host_netns(host))
        return RulesObservation(fingerprint=fingerprint, seen=seen, drift=drift)

    # ------------------------------------------------------------------ subnets
    @_boundary("ensure_subnet")
    def ensure_subnet(self, spec: SubnetSpec) -> None:
        checks.check_ifname(spec.bridge)
        with self._fabric.exclusive():
            links.ensure_bridge(spec)

    @_boundary("delete_subnet")
    def delete_subnet(self, bridge: str) -> None:
        with self._fabric.exclusive():
            links.delete_bridge(bridge)

    # ------------------------------------------------------------------ nodes
    @_boundary("ensure_node")
    def ensure_node(self, spec: NodeSpec,
                    start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
        nodes.check_node(spec)
        early = [p for p in start if p.early and p.netns == spec.netns]
        started: set[str] = set()
        launching: list[threading.Thread] = []

        def launch() -> None:
            for proc in early:
                try:
                    self._start(proc)
                except Exception as exc:  # left to the caller's start_process, which reports it
                    log.info("start %s early: %s", proc.key, _describe(exc))
                else:
                    started.add(proc.key)

        def start_early() -> None:  # the namespace (and sandbox) exists, the ports not yet
            # beside the ports (under this node's lock, held here): a launch mostly waits for
            # bwrap to set the sandbox up, 30-80 ms that the node's making need not wait for
            thread = threading.Thread(target=launch, name=f"facade-early-{spec.netns}",
                                      daemon=True)
            thread.start()
            launching.append(thread)

        with self._fabric.shared(), self._nodes.hold(spec.netns):
            try:
                nodes.ensure_node(spec, sandboxes=self._sandboxes, guard=self._guard,
                                  procs=self._procs, prober=self._prober,
                                  when_namespaced=start_early if early else None,
                                  hub=self.overlay_hub, drives=self._drives)
            finally:
                for thread in launching:
                    thread.join()
        return frozenset(started)

    @_boundary("delete_node")
    def delete_node(self, netns: str) -> None:
        """The node deleted if it is this driver's: one whose ports another host's driver
        took over (a front-end moved off a host: the new copy is made first, by moving its
        ports, and only then is the old host asked to delete its copy) is let go instead,
        with this driver's records of it and its host's segments left empty."""
        made, host = nodes.placed_on(netns)
        if made and not self._drives(host):
            with self._fabric.exclusive(), self._nodes.hold(netns):  # segments: no node beside
                removed = nodes.let_go(netns, sandboxes=self._sandboxes, guard=self._guard,
                                       procs=self._procs, prober=self._prober,
                                       where=self._home())
                removed += self._release_emptied()
            log.info("node %s is on host %s now: let go (%s)", netns, host or "local",
                     ", ".join(removed) or "nothing of it here")
            return
        with self._fabric.shared(), self._nodes.hold(netns):
            _, ends = self._delete_node(netns, host=host)
            self._teardowns.add(netns, ends)

    def _drives(self, host: str | None) -> bool:
        """Whether this driver changes host HOST's kernel (None: the local host): the plane's
        drives every host but those delegated to their agents; an agent's, its own only
        (agent_host.py)."""
        return host is None or host not in set(self._delegated())

    def _home(self) -> str | None:
        """The namespace that held the ports of a node this driver lets go (None: not known;
        the plane's could be the fabric or a simulated host's)."""
        return None

    def _release_emptied(self) -> list[str]:
        """The segments a node let go leaves empty, removed (the plane's: none; only a
        front-end moves, and off a host delegated to its agent, the agent's)."""
        return []

    @_boundary("node_gone")
    def node_gone(self, netns: str) -> bool:
        with self._fabric.shared():
            return self._teardowns.gone(netns)

    def _delete_node(self, netns: str, *, host: str | None) -> tuple[list[str], list[int]]:
        return nodes.delete_node(netns, sandboxes=self._sandboxes, guard=self._guard,
                                 procs=self._procs, prober=self._prober, hub=self.overlay_hub,
                                 host=host)

    @_boundary("set_backends")
    def set_backends(self, netns: str, backends: tuple[str, ...]) -> None:
        for b in backends:
            ipaddress.IPv4Address(b)
        with self._fabric.shared(), self._nodes.hold(netns):
            node_tables.set_rotation(netns, backends)

    # ------------------------------------------------------------------ processes
    @_boundary("start_process")
    def start_process(self, spec: ProcessSpec) -> int:
        with self._fabric.shared(), self._nodes.hold(spec.netns):
            return self._start(spec)

    def _start(self, spec: ProcessSpec) -> int:
        """start_process under its locks (held by the caller)."""
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
        return commands.run(netns, argv, timeout=timeout, stdin=stdin, host=host,
                            sandboxes=self._sandboxes, fabric=self._fabric, nodes=self._nodes)

    def tcp_probe(self, netns: str, ip: str, port: int, *, timeout: float = 1.0) -> ProbeResult:
        return probes.tcp_probe(netns, ip, port, timeout=timeout)

    def http_request(self, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult:
        return probes.http_request(netns, ip, port, path, method=method, body=body,
                                   headers=headers, timeout=timeout)

    def probe_many(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        return self._prober.run(probes)

    # ------------------------------------------------------------------ simulated hosts
    @_boundary("ensure_host")
    def ensure_host(self, name: str, address: str) -> None:
        """hostplane.py: under the fabric's lock, held alone (the fabric joins the overlay)."""
        with self._fabric.exclusive():
            hostplane.ensure_host(self.state_dir, name, address, hub=self.overlay_hub)

    @_boundary("remove_host")
    def remove_host(self, name: str) -> None:
        with self._fabric.exclusive():
            for item in hostplane.remove_host(self.state_dir, name, hub=self.overlay_hub):
                log.info("remove_host %s: removed %s", name, item)

    @_boundary("host_alive")
    def host_alive(self, name: str) -> bool:
        return hostplane.alive(self.state_dir, name)

    @_boundary("fence_host")
    def fence_host(self, name: str) -> list[str]:
        return hostplane.fence(self.state_dir, name)

    @_boundary("rejoin_host")
    def rejoin_host(self, name: str, address: str, keep: set[str]) -> list[str] | None:
        """hostplane.py: under the fabric's lock, held alone (the segments it removes may be
        the fabric's VXLAN ports' last users), unless it is cut off: the host watch asks every
        second while its link is down, and node making must not wait for that."""
        if hostplane.cut_off(name):
            return None
        with self._fabric.exclusive():
            return hostplane.rejoin(self.state_dir, name, address, keep, hub=self.overlay_hub)

    # ------------------------------------------------------------------ the overlay's hub
    # the shared part of the overlay, which the routed plane runs here for a host whose agent
    # makes the host's own part (dataplane/routed.py's OverlayHub)
    @_boundary("ensure_host")
    def ensure_overlay(self) -> None:
        """The reflector, the fabric's leg and FRR, their session up (hostplane.py)."""
        with self._fabric.exclusive():
            hostplane.ensure_overlay_ready(self.state_dir)

    @_boundary("remove_host")
    def leave_overlay(self) -> None:
        """The overlay's shared part removed if no simulated host's namespace is left."""
        with self._fabric.exclusive():
            for item in hostplane.leave_overlay(self.state_dir):
                log.info("leave the overlay: removed %s", item)

    @_boundary("ensure_node")
    def stretch_segments(self, bridges: Collection[str]) -> None:
        """The fabric's bridges of `bridges` stretched over the overlay (their VXLAN ports),
        before a host's agent puts a node on them."""
        with self._fabric.shared():
            for bridge in sorted(bridges):
                hostplane.stretch_fabric(bridge)

    @_boundary("delete_node")
    def release_segments(self) -> list[str]:
        """The fabric's VXLAN ports that no simulated host holds any more removed."""
        with self._fabric.shared():
            return hostplane.release_fabric()

    # ------------------------------------------------------------------ cleanup
    def cleanup(self) -> list[str]:
        self._prober.close()
        with self._fabric.exclusive():
            # the overlay first (FRR may run in the fabric: a plane with simulated hosts); only
            # this PID namespace's daemons: `facade cleanup` (cleanup.py) asks for every one
            removed = simhosts.cleanup(self.state_dir, every_plane=False)
            for name in ns.list_facade():
                if name != FABRIC:
                    try:
                        gone, ends = self._delete_node(name, host=nodes.placed_on(name)[1])
                        self._teardowns.wait(name, ends)
                        removed.extend(gone)
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
            removed += self._procs.sweep_intents()
            self._procs.drop_index()
            self._procs.reap()
            removed += self._sandboxes.cleanup(every_plane=not self.this_plane_only)
            self._guard.listing.changed()
            return removed
