"""The `DataPlane` a control plane of many hosts runs (docs/multi-host.md, "The host agent
applies its host's kernel work"): each operation goes to the driver of the host it concerns,
so the reconcilers do not change. A host whose kernel its agent changes (`RemoteHosts.remote`)
gets its operations as intents (remote.py); everything else, the local host's fabric, routers
and management agents included, goes to the local driver (linux or fake).

What an operation concerns:
- a node: the host its spec names (`NodeSpec.host`), else, by its namespace's name, the host
  the store places it on (`RemoteHosts.node_host`, asked once per node and kept; a node's
  deletion forgets it once `node_gone`); its processes, probes and `exec` go with it;
  whether that host's agent changes its kernel is asked of the store at each operation
  (`RemoteHosts.remote`; none for a node of the local host);
- a process by key: its node's host (the key names the node: `names.workload_id`);
- a host's own operations (`ensure_host`, `host_alive`, `fence_host`...): that host;
- the security rules: every host that holds ports; the local driver's rules, and those of each
  remote host whose agent is present (an away host's are compared and set again, by the
  resync, once it asks for work again); likewise `inventory` and `observe`;
- subnets (the fabric's bridges), routers' counters and `cleanup`: the local host;
- the overlay's shared part (`OverlayHub`: the reflector, the fabric's leg, FRR and VXLAN
  ports) is the local driver's too: it is made before a remote host's `ensure_host` or
  `rejoin_host`, a segment's fabric side before a remote node's `ensure_node`, released once
  a remote node is gone, and the overlay left after the last host's `remove_host`; the local
  driver is told which hosts are remote (`delegate`), so it leaves their namespaces alone.

Made by the server at start (api/server.py) around its linux driver, and by tests around the
fake one.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Protocol, runtime_checkable

from facade.dataplane.errors import DataPlaneError
from facade.dataplane.protocol import DataPlane
from facade.dataplane.remote import HostWork, RemoteDataPlane
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

log = logging.getLogger("facade.dataplane")


class RemoteHosts(Protocol):
    """Which hosts' kernels their agents change, as the control plane's store says
    (service/host_work.py)."""

    def remote(self, host: str) -> bool:
        """Whether host's operations go to its agent."""

    def remote_hosts(self) -> list[str]:
        """Every such host (not removed), by name."""

    def node_host(self, instance_id: int) -> str | None:
        """The host node `instance_id` is placed on (None: the local host)."""

    def lost(self, host: str) -> bool:
        """Whether the store has host lost (its nodes replaced or failed, the host fenced
        until it rejoins)."""


@runtime_checkable
class OverlayHub(Protocol):
    """A local driver that keeps the overlay's shared part (linux/driver.py); one that does
    not (the fake) has none of this, and nothing is asked of it."""

    def delegate(self, hosts: Callable[[], Collection[str]]) -> None:
        """The hosts whose agents change their kernels, asked when needed."""

    def ensure_overlay(self) -> None:
        """The reflector, the fabric's leg and FRR, their session up."""

    def leave_overlay(self) -> None:
        """The shared part removed if no host is left on it."""

    def stretch_segments(self, bridges: Collection[str]) -> None:
        """The fabric's side of these subnets' segments."""

    def release_segments(self) -> list[str]:
        """The fabric's side of every segment no host holds any more removed."""


class NoRemoteHosts:
    """A plane whose every host's kernel it changes itself (the default)."""

    def remote(self, host: str) -> bool:
        return False

    def remote_hosts(self) -> list[str]:
        return []

    def node_host(self, instance_id: int) -> str | None:
        return None

    def lost(self, host: str) -> bool:
        return False


class RoutedDataPlane:
    """The DataPlane protocol over the local driver and the remote hosts' agents. Where a
    node is (its host's name) is kept once known; whether its host is remote is asked at
    each operation (one indexed read: a simulated host whose agent registers is remote from
    its next operation on)."""

    def __init__(self, local: DataPlane, work: HostWork,
                 hosts: RemoteHosts | None = None) -> None:
        self.local = local
        self.work = work
        self.remote = RemoteDataPlane(work)
        self.hosts: RemoteHosts = hosts or NoRemoteHosts()
        self.concurrency = local.concurrency
        self._lock = threading.Lock()
        self._nodes: dict[str, str | None] = {}  # netns -> its host (None: the local host)
        self._instances: dict[int, str | None] = {}  # the same by the node's instance id
        self.hub = local if isinstance(local, OverlayHub) else None
        if self.hub is not None:
            self.hub.delegate(self.hosts.remote_hosts)

    # ------------------------------------------------------------------ where things are
    def _route(self, host: str | None) -> str | None:
        """`host` if its operations go to its agent, else None (the local driver's)."""
        return host if host is not None and self.hosts.remote(host) else None

    def _node(self, netns: str) -> str | None:
        """The remote host of node `netns` (None: the local driver's)."""
        with self._lock:
            known, host = netns in self._nodes, self._nodes.get(netns)
        if not known:
            found = names.node_id(netns)
            host = self.hosts.node_host(found[0]) if found is not None else None
            self._learn(host, netns)
        return self._route(host)

    def _process(self, key: str) -> str | None:
        instance = names.workload_id(key)
        if instance is None:
            return None  # a management agent's: in a router, on the local host
        with self._lock:
            known, host = instance in self._instances, self._instances.get(instance)
        if not known:  # asked of the store once, kept as `_node` keeps a namespace's
            host = self.hosts.node_host(instance)
            with self._lock:
                self._instances[instance] = host
        return self._route(host)

    def _learn(self, host: str | None, netns: str) -> None:
        found = names.node_id(netns)
        with self._lock:
            self._nodes[netns] = host
            if found is not None:
                self._instances[found[0]] = host

    def _present(self) -> list[str]:
        return [h for h in self.hosts.remote_hosts() if self.work.present(h)]

    def _cut_off(self, host: str | None) -> bool:
        """Remote `host` is lost and its agent away: nothing of it can be asked, and nothing
        of it serves (it fences itself when its agent is back, and the host watch's rejoin
        sweeps what the store no longer places there). Its nodes are then gone as far as a
        deletion or an observation goes, so that a lost host's backends, replaced elsewhere,
        leave their appliance (each operation otherwise a Retry until the host is back)."""
        return host is not None and not self.work.present(host) and self.hosts.lost(host)

    # ------------------------------------------------------------------ nodes
    def ensure_node(self, spec: NodeSpec,
                    start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
        with self._lock:
            known, before = spec.netns in self._nodes, self._nodes.get(spec.netns)
        host = self._route(spec.host)
        if host is None:
            made = self.local.ensure_node(spec, start)
        else:
            if self.hub is not None:  # the fabric's side of its segments first
                self.hub.stretch_segments({p.bridge for p in spec.ports})
            made = self.remote.ensure_node(host, spec, start)
        self._learn(spec.host, spec.netns)
        if known and before != spec.host:
            self._leave(spec.netns, before, spec.host)
        return made

    def _leave(self, netns: str, old: str | None, new: str | None) -> None:
        """Node `netns` moved from host `old` to host `new` when an agent changes either:
        make before break. The new copy is made first (on one machine every namespace is
        in the one /run/netns, so the new host's driver takes the node's namespace over and
        moves its ports, as the plane's own driver does between two hosts it drives: the
        endpoint is away only while its ports move), then the old host's is asked to delete
        its copy, which it deletes only if it is still its own (its `lo` alias still names
        it), else lets go of its records of it (linux/driver.py `delete_node`). An old host
        whose agent is away or silent (a lost host's) is left to its sweep when it rejoins
        (`rejoin_host` keeps only the ports the store places there); the move goes on."""
        if self._route(old) is None and self._route(new) is None:
            return  # both driven by the local driver: it moved the node's ports itself
        try:
            if self._route(old) is None:
                self.local.delete_node(netns)
            else:
                assert old is not None
                self.remote.delete_node(old, netns)
        except DataPlaneError as exc:
            log.info("node %s moving off host %s: its copy there is left to its sweep (%s)",
                     netns, old or "local", exc)

    def delete_node(self, netns: str) -> None:
        host = self._node(netns)
        if host is None:
            self.local.delete_node(netns)
        elif self._cut_off(host):
            log.info("node %s on lost host %s, whose agent is away: left to its sweep",
                     netns, host)
        else:
            self.remote.delete_node(host, netns)

    def node_gone(self, netns: str) -> bool:
        host = self._node(netns)
        gone = self.local.node_gone(netns) if host is None \
            else self._cut_off(host) or self.remote.node_gone(host, netns)
        if gone and host is not None and self.hub is not None:
            for item in self.hub.release_segments():  # the fabric's side its host left
                log.info("node %s gone from host %s: removed %s", netns, host, item)
        if gone:
            found = names.node_id(netns)
            with self._lock:
                self._nodes.pop(netns, None)
                if found is not None:
                    self._instances.pop(found[0], None)
        return gone

    def observe_node(self, netns: str) -> ObservedNode | None:
        host = self._node(netns)
        if host is None:
            return self.local.observe_node(netns)
        return None if self._cut_off(host) else self.remote.observe_node(host, netns)

    def has_node(self, netns: str) -> bool:
        host = self._node(netns)
        if host is None:
            return self.local.has_node(netns)
        return not self._cut_off(host) and self.remote.has_node(host, netns)

    def set_backends(self, netns: str, backends: tuple[str, ...]) -> None:
        host = self._node(netns)
        if host is None:
            self.local.set_backends(netns, backends)
        else:
            self.remote.set_backends(host, netns, backends)

    def gateway_counters(self, netns: str) -> dict[str, tuple[str, int]] | None:
        return self.local.gateway_counters(netns)  # a router's: on the local host

    # ------------------------------------------------------------------ processes
    def start_process(self, spec: ProcessSpec) -> int:
        host = self._node(spec.netns)
        return self.local.start_process(spec) if host is None \
            else self.remote.start_process(host, spec)

    def stop_process(self, key: str) -> None:
        host = self._process(key)
        if host is None:
            self.local.stop_process(key)
        elif not self._cut_off(host):
            self.remote.stop_process(host, key)

    def observe_process(self, key: str) -> ObservedProcess | None:
        host = self._process(key)
        if host is None:
            return self.local.observe_process(key)
        return None if self._cut_off(host) else self.remote.observe_process(host, key)

    # ------------------------------------------------------------------ exec and probes
    def exec(self, netns: str, argv: list[str], *, timeout: float = 30.0,
             stdin: str | None = None, host: bool = False) -> ExecResult:
        where = self._node(netns)
        if where is None:
            return self.local.exec(netns, argv, timeout=timeout, stdin=stdin, host=host)
        return self.remote.exec(where, netns, argv, timeout=timeout, stdin=stdin,
                                as_host=host)

    def tcp_probe(self, netns: str, ip: str, port: int, *, timeout: float = 1.0) -> ProbeResult:
        host = self._node(netns)
        return self.local.tcp_probe(netns, ip, port, timeout=timeout) if host is None \
            else self.remote.tcp_probe(host, netns, ip, port, timeout=timeout)

    def http_request(self, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult:
        host = self._node(netns)
        if host is None:
            return self.local.http_request(netns, ip, port, path, method=method, body=body,
                                           headers=headers, timeout=timeout)
        return self.remote.http_request(host, netns, ip, port, path, method=method,
                                        body=body, headers=headers, timeout=timeout)

    def probe_many(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        """Each host's checks in one batch: the remote hosts' sent first, the local host's
        run meanwhile; results in the order given (a host whose agent is away or silent:
        its checks fail, saying so)."""
        by_host: dict[str | None, list[int]] = {}
        for i, probe in enumerate(probes):
            by_host.setdefault(self._node(probe.netns), []).append(i)
        results: list[ProbeResult | None] = [None] * len(probes)
        sent = []
        for host, where in by_host.items():
            if host is not None:
                try:
                    sent.append((where, self.remote.submit_probes(
                        host, [probes[i] for i in where])))
                except DataPlaneError as exc:
                    for i in where:
                        results[i] = ProbeResult(ok=False, detail=str(exc))
        local = by_host.get(None, [])
        if local:
            for i, result in zip(local, self.local.probe_many([probes[i] for i in local]),
                                 strict=True):
                results[i] = result
        for where, pending in sent:
            try:
                answers = self.work.result(pending)
            except DataPlaneError as exc:
                answers = [ProbeResult(ok=False, detail=str(exc))] * len(where)
            for i, result in zip(where, answers, strict=False):
                results[i] = result
        return [r if r is not None else ProbeResult(ok=False, detail="no answer")
                for r in results]

    # ------------------------------------------------------------------ the world
    def observe(self) -> ObservedState:
        seen = self.local.observe()
        nodes, processes = dict(seen.nodes), dict(seen.processes)
        for host in self._present():
            theirs = self.remote.observe(host)
            for netns in theirs.nodes:
                self._learn(host, netns)
            nodes.update(theirs.nodes)
            processes.update(theirs.processes)
        return dataclasses.replace(seen, nodes=nodes, processes=processes)

    def inventory(self, *, segments: bool = True) -> Inventory:
        """The local driver's, with the namespaces and processes of each remote host whose
        agent is present (an away one's are not known now: nothing of it is an orphan)."""
        seen = self.local.inventory(segments=segments)
        namespaces, processes = set(seen.namespaces), set(seen.processes)
        for host in self._present():
            try:
                theirs = self.remote.inventory(host, segments=False)
            except DataPlaneError as exc:
                log.info("inventory of host %s: %s", host, exc)
                continue
            for netns in theirs.namespaces:
                self._learn(host, netns)
            namespaces |= theirs.namespaces
            processes |= theirs.processes
        return dataclasses.replace(seen, namespaces=frozenset(namespaces),
                                   processes=frozenset(processes))

    def observe_rules(self) -> RulesObservation:
        """The local driver's rules; a present remote host whose rules differ from them adds
        its difference as drift (the rules are then set again everywhere)."""
        seen = self.local.observe_rules()
        drift = list(seen.drift)
        for host in self._present():
            theirs = self.remote.observe_rules(host)
            if theirs.fingerprint != seen.fingerprint:
                drift.append(f"host {host}: rules {theirs.fingerprint or 'none'}, not "
                             f"{seen.fingerprint or 'none'}")
            drift += [f"host {host}: {d}" for d in theirs.drift]
        return dataclasses.replace(seen, drift=tuple(drift))

    def set_port_rules(self, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
        """Every host's: the local driver's, then each present remote host's (a port's rules
        follow the port: each host keeps those of its own ports). A remote host that fails
        makes the call fail (Retry) once the others have theirs."""
        self.local.set_port_rules(rules)
        failed = []
        for host in self._present():
            try:
                self.remote.set_port_rules(host, rules)
            except DataPlaneError as exc:
                failed.append(str(exc))
        if failed:
            raise DataPlaneError("set_port_rules: " + "; ".join(failed))

    # ------------------------------------------------------------------ subnets: the fabric's
    def observe_subnet(self, bridge: str) -> int | None:
        return self.local.observe_subnet(bridge)

    def has_subnet(self, bridge: str) -> bool:
        return self.local.has_subnet(bridge)

    def ensure_subnet(self, spec: SubnetSpec) -> None:
        self.local.ensure_subnet(spec)

    def delete_subnet(self, bridge: str) -> None:
        self.local.delete_subnet(bridge)

    # ------------------------------------------------------------------ hosts
    def ensure_host(self, name: str, address: str) -> None:
        if self._route(name) is not None:
            if self.hub is not None:  # the overlay's shared part first: the host peers with it
                self.hub.ensure_overlay()
            self.remote.ensure_host(name, address)
        else:
            self.local.ensure_host(name, address)

    def remove_host(self, name: str) -> None:
        if self._route(name) is not None:
            self.remote.remove_host(name)
            if self.hub is not None and not [h for h in self.hosts.remote_hosts() if h != name]:
                self.hub.leave_overlay()  # (if no simulated host of its own is left either)
        else:
            self.local.remove_host(name)

    def host_alive(self, name: str) -> bool:
        if self._route(name) is not None:
            return self.remote.host_alive(name)
        return self.local.host_alive(name)

    def fence_host(self, name: str) -> list[str]:
        if self._route(name) is not None:
            return self.remote.fence_host(name)
        return self.local.fence_host(name)

    def rejoin_host(self, name: str, address: str, keep: set[str]) -> list[str] | None:
        if self._route(name) is not None:
            if self.hub is not None:
                self.hub.ensure_overlay()
            return self.remote.rejoin_host(name, address, keep)
        return self.local.rejoin_host(name, address, keep)

    def cleanup(self) -> list[str]:
        """The local host's (each remote host's agent cleans its own: `facade cleanup` there)."""
        with self._lock:
            self._nodes.clear()
            self._instances.clear()
        return self.local.cleanup()
