"""The one interface through which Facade changes and reads the network.

Every operation is "make it so": creating what exists already, or deleting what is gone, is
success. A failure is a `facade.dataplane.errors.DataPlaneError`, Retry or Fatal. Drivers: `fake.FakeDataPlane` (in memory, for tests without root) and
`linux.LinuxDataPlane` (namespaces, veths, bridges, nftables). Names come from domain.names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

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


@runtime_checkable
class DataPlane(Protocol):
    # how many node operations (ensure_node, delete_node, start_process, on different nodes)
    # the reconciler may run at once
    concurrency: int

    def observe(self) -> ObservedState:
        """Read what exists now (from the kernel, not from memory), Facade's objects only."""

    # One object at a time: what the controller reads for the key it reconciles (its cost is
    # the object's, not the world's).
    def observe_node(self, netns: str) -> ObservedNode | None:
        """One node (or router) as `observe()` would report it; None if it does not exist."""

    def has_node(self, netns: str) -> bool:
        """Whether the node (or router) exists, nothing of it read (a node being deleted)."""

    def gateway_counters(self, netns: str) -> dict[str, tuple[str, int]] | None:
        """A router's named byte counters (a public gateway's meters, one pair per public
        address: names.public_ip_meter): name -> (epoch, bytes), the epoch changing exactly
        when the count starts again from 0; {} for a router without them, None when there is
        no such router. One read of the router's table (metering, docs/metering.md)."""

    def observe_process(self, key: str) -> ObservedProcess | None:
        """One long-running process, if it runs."""

    def observe_subnet(self, bridge: str) -> int | None:
        """How many ports the subnet's segment has (None: it does not exist)."""

    def has_subnet(self, bridge: str) -> bool:
        """Whether the subnet's segment exists (its ports not counted: one lookup)."""

    def observe_rules(self) -> RulesObservation:
        """The fabric's security rules, read back (as `observe()` reports them)."""

    def inventory(self, *, segments: bool = True) -> Inventory:
        """The names of every node, segment and process Facade has in the kernel (without
        `segments`: the segments left out, which spares the linux driver a dump of the
        fabric's links)."""

    def ensure_subnet(self, spec: SubnetSpec) -> None:
        """Make the subnet's segment exist (the fabric namespace too, if needed)."""

    def delete_subnet(self, bridge: str) -> None: ...

    def ensure_node(self, spec: NodeSpec,
                    start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
        """Make the node exist exactly as `spec` says: namespace, ports, addresses, routes,
        rules, sysctls, and for a front-end the load-balancing rules (its backend set is kept
        if the node exists, empty if new). Ports not in the spec are removed.

        `start`: processes of this node to (re)start as start_process would, those marked
        `early` as soon as the node's namespace exists, while its ports are made (a workload
        then boots side by side with its node). Returns the keys of those started; any other
        (not early, or it failed to start) is for the caller to start_process, which reports
        its error."""

    def delete_node(self, netns: str) -> None:
        """Kill every process in the node, remove its ports and its namespace. What the
        kernel tears down after the call (its ports go with its namespace) may still be
        there when it returns: node_gone says when it has gone."""

    def node_gone(self, netns: str) -> bool:
        """Whether nothing is left of a node deleted by delete_node (True for a node never
        deleted here); ports still there a few seconds after the deletion are deleted now."""

    def set_backends(self, netns: str, backends: tuple[str, ...]) -> None:
        """Replace a front-end's rotation atomically; established connections are kept."""

    def set_port_rules(self, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
        """Replace the security rules of every fabric port at once (ports absent: no rules);
        `observe().port_rules` then reads back `port_rules_fingerprint(rules)`, and
        `observe().port_rules_seen` the rules themselves as the kernel enforces them (so a
        single rule changed behind Facade's back is seen)."""

    def start_process(self, spec: ProcessSpec) -> int:
        """Start the program in its node (in the node's sandbox if `spec.sandboxed`), detached
        from the control plane; returns its pid."""

    def stop_process(self, key: str) -> None: ...

    def exec(self, netns: str, argv: list[str], *, timeout: float = 30.0,
             stdin: str | None = None, host: bool = False) -> ExecResult:
        """Run a command inside a node and wait for it (never through a shell): in the node's
        sandbox, as the node's root (SandboxSpec), or with `host` as the host's root with only
        the network namespace changed (the operator's escape hatch)."""

    def tcp_probe(self, netns: str, ip: str, port: int, *, timeout: float = 1.0) -> ProbeResult:
        """Open (and close) a TCP connection from inside `netns`."""

    def http_request(self, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult:
        """One real HTTP/1.1 request from inside `netns` (extra `headers` are sent as given)."""

    def probe_many(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        """Health checks side by side, each within its own timeout (one slow target costs only
        its own); results in the order given. An HTTP check may reuse the connection the last
        check of its target left open; a kept connection the server has closed is replaced in
        the same check. A check whose namespace is missing says `no namespace NETNS`."""

    def ensure_host(self, name: str, address: str) -> None:
        """Make simulated host NAME run at underlay `address` (docs/multi-host.md): its
        namespace on the substrate and its FRR (the substrate, the route reflector and the
        local host's leg made with the first). Nodes whose spec names it are made there."""

    def remove_host(self, name: str) -> None:
        """Simulated host NAME gone: its FRR stopped, its namespace removed (with the last
        host, the overlay goes and the plane runs as one with none)."""

    def host_alive(self, name: str) -> bool:
        """Whether simulated host NAME runs: its namespace, its port on the substrate up (its
        link to the other hosts) and its bgpd (a machine's agent heartbeats instead)."""

    def fence_host(self, name: str) -> list[str]:
        """Lost simulated host NAME fenced off the overlay: its FRR stopped, so it announces
        nothing when its link comes back until `rejoin_host`; returns what was stopped."""

    def rejoin_host(self, name: str, address: str, keep: set[str]) -> list[str] | None:
        """Fenced host NAME back once its namespace and link run again: every node port there
        not in `keep` (the ports, `fcdv<interface>`, of the nodes the store places there)
        removed with the segments left empty, then its FRR started (a host whose namespace
        is gone is made anew). None while its link is down (nothing done); else what was
        removed."""

    def cleanup(self) -> list[str]:
        """Remove every kernel object and process Facade made; returns what was removed."""
