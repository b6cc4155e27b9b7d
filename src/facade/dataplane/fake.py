"""An in-memory DataPlane: the first-class fake that lets service, reconcile and API be tested
without root. It keeps exactly the state a kernel would, and fails the way the linux driver does
on impossible requests (a port on a bridge that does not exist), with the same errors
(facade.dataplane.errors: Retry or Fatal). tests/integration/test_driver_contract.py runs one
suite against both drivers and holds this fake to the linux driver's observable behaviour.

Not modelled: ports (a node with a process "listens" on every port of its addresses), reachability
(any node reaches any address), processes that end by themselves, what `exec` prints. A
management agent (a process started with `--config FILE`) answers on the management addresses
its configuration lists, as the real one does once it has read it; its `GET /v1/counters`,
per node and on its hub, answers with the numbers a test counts in `meters` (fake_agents.py)."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from facade.dataplane import checks, fake_agents
from facade.dataplane.errors import DataPlaneError, fatal
from facade.dataplane.fake_agents import FakeMeters
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
    port_rules_fingerprint,
)
from facade.domain.states import NodeRole


@dataclass
class FakeDataPlane:
    subnets: dict[str, SubnetSpec] = field(default_factory=dict)
    nodes: dict[str, NodeSpec] = field(default_factory=dict)
    backends: dict[str, tuple[str, ...]] = field(default_factory=dict)
    processes: dict[str, tuple[ProcessSpec, int]] = field(default_factory=dict)
    # the rules "the kernel" enforces; a test may edit them behind the reconciler's back (drift)
    port_rules: dict[str, tuple[PortRuleSpec, ...]] = field(default_factory=dict)
    port_rules_recorded: str | None = None  # the fingerprint set_port_rules recorded
    calls: list[str] = field(default_factory=list)
    # a gateway's named byte counters: netns -> name -> [epoch, bytes]; a test counts traffic
    # with `count_bytes`, as the kernel would count packets through the gateway's leg
    counters: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    _epochs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # what the management agents' /v1/counters report (a test counts traffic and requests)
    meters: FakeMeters = field(default_factory=FakeMeters)
    concurrency: int = 1  # one at a time: `calls` keeps the plan's order
    hosts: dict[str, str] = field(default_factory=dict)  # simulated host -> underlay address
    cut: set[str] = field(default_factory=set)  # simulated hosts cut off (tests: host_alive)
    fenced: set[str] = field(default_factory=set)  # lost hosts whose FRR was stopped
    # ports left on a host by hand (tests: what rejoin_host sweeps), host -> port names
    stale: dict[str, set[str]] = field(default_factory=dict)
    _pids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def has_node(self, netns: str) -> bool:
        return netns in self.nodes

    def observe_node(self, netns: str) -> ObservedNode | None:
        spec = self.nodes.get(netns)
        if spec is None:
            return None
        return ObservedNode(
            netns=netns,
            fingerprint=spec.fingerprint(),
            addresses=frozenset((p.ifname, p.address) for p in spec.ports),
            backends=tuple(sorted(set(self.backends.get(netns, ())))) if spec.frontend else None,
            own_network=spec.sandbox is not None and spec.sandbox.own_network,
            ports=frozenset(p.ifname for p in spec.ports),
            # like the linux driver: the guard knows a port by its MAC, and a tenant's node
            # none of whose ports has one is reported unguarded
            guarded=spec.sandbox is not None and spec.sandbox.own_network
            and any(p.mac for p in spec.ports),
            # like the linux driver: the node's tunnel interfaces (a router's), as made
            tunnels=frozenset(t.ifname for t in spec.tunnels),
            host=spec.host)

    def gateway_counters(self, netns: str) -> dict[str, tuple[str, int]] | None:
        if netns not in self.nodes:
            return None
        return {name: (f"fake:{epoch}", value)
                for name, (epoch, value) in self.counters.get(netns, {}).items()}

    def count_bytes(self, netns: str, counter: str, n: int) -> None:
        """Traffic through a gateway: `n` bytes more on one of its counters (a test's)."""
        self.counters[netns][counter][1] += n

    def _sync_counters(self, spec: NodeSpec) -> None:
        """Like the kernel's table: a wanted counter kept (its value too), a new one at 0 with
        a new epoch, one no longer wanted gone."""
        wanted = [f"{stem}_{way}" for _, stem in (spec.gateway.meters if spec.gateway else ())
                  for way in ("in", "out")]
        have = self.counters.get(spec.netns, {})
        self.counters[spec.netns] = {name: have.get(name) or [next(self._epochs), 0]
                                     for name in wanted}

    def observe_process(self, key: str) -> ObservedProcess | None:
        got = self.processes.get(key)
        if got is None:
            return None
        spec, pid = got
        return ObservedProcess(key=key, netns=spec.netns, pid=pid, fingerprint=spec.fingerprint())

    def observe_subnet(self, bridge: str) -> int | None:
        if bridge not in self.subnets:
            return None
        return sum(1 for s in self.nodes.values() for p in s.ports if p.bridge == bridge)

    def has_subnet(self, bridge: str) -> bool:
        return bridge in self.subnets

    def observe_rules(self) -> RulesObservation:
        if not self.subnets:
            return RulesObservation()  # no fabric: nothing read
        # like the linux driver's tables: no rules left, no recorded fingerprint either
        recorded = self.port_rules_recorded if self.port_rules else None
        return RulesObservation(fingerprint=recorded, seen=dict(self.port_rules))

    def inventory(self, *, segments: bool = True) -> Inventory:
        return Inventory(namespaces=frozenset(self.nodes),
                         subnets=frozenset(self.subnets) if segments else frozenset(),
                         processes=frozenset(self.processes))

    def observe(self) -> ObservedState:
        nodes = {name: node for name in list(self.nodes)
                 if (node := self.observe_node(name)) is not None}
        procs = {key: proc for key in list(self.processes)
                 if (proc := self.observe_process(key)) is not None}
        rules = self.observe_rules()
        return ObservedState(subnets=frozenset(self.subnets), nodes=nodes, processes=procs,
                             port_rules=rules.fingerprint, port_rules_seen=rules.seen)

    def set_port_rules(self, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
        self.calls.append(f"set_port_rules {','.join(sorted(p for p, r in rules.items() if r))}")
        if any(rs for rs in rules.values()) and not self.subnets:
            raise DataPlaneError("no fabric for port rules")
        self.port_rules = {p: tuple(r) for p, r in rules.items() if r}
        self.port_rules_recorded = port_rules_fingerprint(self.port_rules)

    def ensure_subnet(self, spec: SubnetSpec) -> None:
        self.calls.append(f"ensure_subnet {spec.bridge}")
        checks.check_ifname(spec.bridge)
        self.subnets[spec.bridge] = spec

    def delete_subnet(self, bridge: str) -> None:
        self.calls.append(f"delete_subnet {bridge}")
        users = [n for n, s in self.nodes.items() if any(p.bridge == bridge for p in s.ports)]
        if users:
            raise DataPlaneError(f"delete_subnet {bridge}: bridge still has ports of {users}")
        self.subnets.pop(bridge, None)
        if not self.subnets:  # the last bridge takes the fabric, and its rules, with it
            self.port_rules.clear()
            self.port_rules_recorded = None

    def ensure_node(self, spec: NodeSpec,
                    start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
        self._make_node(spec)
        started = set()
        for proc in start:
            if proc.early and proc.netns == spec.netns:
                try:
                    self.start_process(proc)
                except DataPlaneError:
                    continue  # the caller starts it the ordinary way, which reports why
                started.add(proc.key)
        return frozenset(started)

    def _make_node(self, spec: NodeSpec) -> None:
        self.calls.append(f"ensure_node {spec.netns}")
        _check_node(spec)  # a request that can never be carried out, before anything else
        if not self.subnets:
            raise DataPlaneError(f"ensure_node {spec.netns}: no fabric; ensure the subnets first")
        for p in spec.ports:
            if p.bridge not in self.subnets:
                raise DataPlaneError(f"ensure_node {spec.netns}: no bridge {p.bridge} for port "
                                     f"{p.host}")
        if spec.host is not None and spec.host not in self.hosts:
            raise DataPlaneError(f"ensure_node {spec.netns}: no host {spec.host}")
        self.nodes[spec.netns] = spec
        self._sync_counters(spec)
        self.meters.made_node(spec.netns)
        if spec.frontend:
            self.backends.setdefault(spec.netns, ())
        else:  # no longer a front-end: its rotation goes with its rules
            self.backends.pop(spec.netns, None)

    def delete_node(self, netns: str) -> None:
        self.calls.append(f"delete_node {netns}")
        self.nodes.pop(netns, None)
        self.backends.pop(netns, None)
        self.counters.pop(netns, None)
        self.meters.deleted_node(netns)
        for key in [k for k, (s, _) in self.processes.items() if s.netns == netns]:
            del self.processes[key]

    def node_gone(self, netns: str) -> bool:
        return True  # the fake's deletion is whole at once

    def set_backends(self, netns: str, backends: tuple[str, ...]) -> None:
        self.calls.append(f"set_backends {netns} {','.join(backends)}")
        for b in backends:
            try:
                ipaddress.IPv4Address(b)
            except ValueError as exc:
                raise fatal(f"set_backends {netns}: {exc}") from exc
        if netns not in self.nodes:
            raise DataPlaneError(f"set_backends {netns}: no front-end {netns}")
        if self.nodes[netns].frontend is None:
            raise fatal(f"set_backends {netns}: not a front-end")
        self.backends[netns] = tuple(backends)

    def start_process(self, spec: ProcessSpec) -> int:
        self.calls.append(f"start_process {spec.key}")
        if spec.netns not in self.nodes:
            raise DataPlaneError(f"start_process {spec.key}: no node {spec.netns}")
        if spec.sandboxed and self.nodes[spec.netns].sandbox is None:
            raise fatal(f"node {spec.netns} has no sandbox for process {spec.key}")
        pid = next(self._pids)
        self.processes[spec.key] = (spec, pid)
        return pid

    def stop_process(self, key: str) -> None:
        self.calls.append(f"stop_process {key}")
        self.processes.pop(key, None)

    def exec(self, netns: str, argv: list[str], *, timeout: float = 30.0,
             stdin: str | None = None, host: bool = False) -> ExecResult:
        if netns not in self.nodes:
            return ExecResult(returncode=255, stdout="", stderr=f"no namespace {netns}")
        node = self.nodes[netns]
        if not host and node.sandbox is None:  # the linux driver has nowhere to run it
            return ExecResult(returncode=255, stdout="", stderr=f"node {netns} has no sandbox")
        self.calls.append(f"exec {netns} {'host' if host else 'sandbox'} {' '.join(argv)}")
        return ExecResult(returncode=0, stdout=" ".join(argv) + "\n", stderr="")

    def _listening(self, ip: str, port: int, netns: str | None = None) -> bool:
        # copies: the controller's probes (threads) ask while its workers change the maps
        processes, nodes = list(self.processes.values()), list(self.nodes.items())
        if any(self._agent_serves(spec, ip, port) for spec, _ in processes
               if spec.netns == netns):
            return True
        here = self.nodes.get(netns or "")
        if here is not None and any(p.address.split("/")[0] == ip for p in here.ports):
            # its own address (a health check from inside the node): its own process only
            return any(spec.netns == netns for spec, _ in processes)
        for spec, _ in processes:
            node = self.nodes.get(spec.netns)
            if node and any(p.address.split("/")[0] == ip for p in node.ports):
                return True
        for name, node in nodes:
            fe = node.frontend
            if fe and fe.endpoint == ip and fe.port == port:
                # the endpoint answers through a backend of its rotation that serves
                bridge = next(p.bridge for p in node.ports if p.ifname == fe.backend_if)
                return any(self._serves(bridge, b) for b in self.backends.get(name, ()))
        return False

    def _agent_serves(self, spec: ProcessSpec, ip: str, port: int) -> bool:
        """A management agent's process serves `ip`:`port` when its configuration file lists
        a node of that management address whose namespace exists."""
        config = fake_agents.agent_config(self.meters, spec)
        if config is None:
            return False
        return config.get("port") == port and any(
            n.get("mgmt_ip") == ip and n.get("netns") in self.nodes
            for n in config.get("nodes", ()))

    def _serves(self, bridge: str, ip: str) -> bool:
        """A node with address `ip` on `bridge` runs a process."""
        return any(any(p.bridge == bridge and p.address.split("/")[0] == ip
                       for p in self.nodes[spec.netns].ports)
                   for spec, _ in self.processes.values() if spec.netns in self.nodes)

    def tcp_probe(self, netns: str, ip: str, port: int, *, timeout: float = 1.0) -> ProbeResult:
        if netns not in self.nodes:
            return ProbeResult(ok=False, detail=f"no namespace {netns}")
        ok = self._listening(ip, port, netns)
        return ProbeResult(ok=ok, detail="connected" if ok else "connection refused")

    def http_request(self, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult:
        if netns not in self.nodes:
            return ProbeResult(ok=False, detail=f"no namespace {netns}")
        if method == "GET":
            agents = [spec for spec, _ in list(self.processes.values())]
            answer = fake_agents.answer(self.meters, self.nodes, self.backends, agents, netns,
                                        ip, port, path, headers)
            if answer is not None:
                return answer
        if not self._listening(ip, port, netns):
            return ProbeResult(ok=False, detail="connection refused")
        return ProbeResult(ok=True, detail="HTTP 200", status=200, body="fake\n")

    def probe_many(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        return [self.http_request(p.netns, p.ip, p.port, p.path, headers=dict(p.headers),
                                  timeout=p.timeout)
                if p.path is not None else
                self.tcp_probe(p.netns, p.ip, p.port, timeout=p.timeout) for p in probes]

    def ensure_host(self, name: str, address: str) -> None:
        self.calls.append(f"ensure_host {name}")
        names.check_host_name(name)
        if self.hosts.get(name, address) != address:
            raise DataPlaneError(f"ensure_host {name}: it runs at {self.hosts[name]}, not "
                                 f"{address}")
        self.hosts[name] = address

    def remove_host(self, name: str) -> None:
        self.calls.append(f"remove_host {name}")
        self.hosts.pop(name, None)
        self.cut.discard(name)
        self.fenced.discard(name)

    def host_alive(self, name: str) -> bool:
        return name in self.hosts and name not in self.cut and name not in self.fenced

    def fence_host(self, name: str) -> list[str]:
        self.calls.append(f"fence_host {name}")
        self.fenced.add(name)
        return [f"frr of {name}"]

    def rejoin_host(self, name: str, address: str, keep: set[str]) -> list[str] | None:
        if name not in self.hosts or name in self.cut:
            return None
        self.calls.append(f"rejoin_host {name} keep={','.join(sorted(keep))}")
        swept = sorted(self.stale.get(name, set()) - keep)
        self.stale[name] = self.stale.get(name, set()) & keep
        self.fenced.discard(name)
        self.ensure_host(name, address)
        return [f"port {p} of host {name}" for p in swept]

    def cleanup(self) -> list[str]:
        # reported as the linux driver reports it
        removed = [*(f"process {pid}" for _, pid in self.processes.values()),
                   *(f"netns {n}" for n in self.nodes),
                   *([f"netns {names.FABRIC_NETNS}"] if self.subnets else [])]
        removed += [f"netns {names.host_netns(h)}" for h in self.hosts]
        self.hosts.clear()
        self.processes.clear()
        self.nodes.clear()
        self.subnets.clear()
        self.backends.clear()
        self.counters.clear()
        self.meters = FakeMeters()
        self.port_rules.clear()
        self.port_rules_recorded = None
        return removed


def _check_node(spec: NodeSpec) -> None:
    """What the linux driver refuses as Fatal before it touches the kernel: the shared checks,
    and a router's isolated legs (the driver's router_rules says the same)."""
    ifnames = checks.check_node(spec)
    # only a router isolates legs, and only legs it has
    if spec.isolated and (spec.role != NodeRole.ROUTER or not set(spec.isolated) <= set(ifnames)):
        raise fatal(f"ensure_node {spec.netns}: isolated legs {list(spec.isolated)} are not "
                    "router ports")
