"""Desired kernel state, as plain data: what the reconciler asks a data-plane driver to make.

These are the words of the `DataPlane` protocol. They say *what* must exist (a subnet segment, a
node with interfaces, a front-end that balances a port over backends, a process in a node), not
*how*: the linux driver turns them into bridges, veths, routes and nftables; another driver
(OVN) could turn them into logical switches and load balancers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

from facade.domain.states import NodeRole


def _once(spec: object, compute: Callable[[], str]) -> str:
    """A frozen spec's fingerprint, computed at its first use and kept beside its fields (not
    one of them: equality, hashing and asdict do not see it)."""
    kept = spec.__dict__.get("_fingerprint_kept")
    if kept is None:
        kept = compute()
        object.__setattr__(spec, "_fingerprint_kept", kept)
    return str(kept)


@dataclass(frozen=True)
class SubnetSpec:
    """One L2 segment (a subnet)."""

    bridge: str
    cidr: str


@dataclass(frozen=True)
class Leg:
    """One interface of a router (or any namespace) on a segment, by name."""

    netns: str
    ifname: str


@dataclass(frozen=True)
class PortSpec:
    """One interface of a node: a leg in a subnet with one address.

    `address` is "IP/PREFIX". `gateway` is the subnet's router address (None: no router use).
    The first port of a node is its primary one (main routing table, default route via its
    gateway); every other port gets a routing table of its own so replies leave by the interface
    their request came in on, even when subnets overlap. A `connected` port also has its
    subnet's route in the main table, so the node reaches that subnet from any source address
    (a backend's extra legs, whose ranges overlap nothing else of the node's).
    """

    host: str  # fabric-side veth end, enslaved to `bridge`
    bridge: str
    ifname: str  # name inside the node namespace
    address: str
    gateway: str | None = None
    mac: str | None = None  # None: the driver's choice
    connected: bool = False
    # addresses on this port's segment the node resolves without ARP (its gateway, a backend's
    # front-end): permanent neighbour entries, their MACs by names.mac's rule (needs `mac`)
    neighbours: tuple[str, ...] = ()
    # the router leg that learns this port's address without ARP (withdrawn with the node)
    announce: Leg | None = None


@dataclass(frozen=True)
class FrontendSpec:
    """Kernel L4 load balancing in a front-end node.

    Connections arriving on `customer_if` for `endpoint`:`port` are spread over the backends and
    leave by `backend_if` with the front-end's backend-side address as source. Nothing else from
    the customer side is forwarded or answered (but ICMP echo to the endpoint).
    """

    customer_if: str
    backend_if: str
    endpoint: str
    port: int
    protocol: Literal["tcp"] = "tcp"
    metering: bool = True  # per-backend meters in the forward chain (off only for benchmarks)
    unmetered_source: str | None = None  # not metered: the control plane's probes come from it


@dataclass(frozen=True)
class GatewaySpec:
    """A network router's public gateway (docs/edge.md): its leg `ifname` on the intermediate
    network, the Internet core `via` as its default route, 1:1 NAT for each (public, private)
    pair in `nat`, and, when `outbound`, every other source of its (not provider-internal)
    subnets reaching out with the leg's own address. Nothing enters from the intermediate
    network but to a translated address (and the replies of what went out)."""

    ifname: str
    via: str
    nat: tuple[tuple[str, str], ...] = ()
    outbound: bool = False
    # the router's legs in private subnets (no route to the Internet): nothing passes between
    # them and `ifname`
    private: tuple[str, ...] = ()
    # (public address, counter stem) of each translated address: the bytes that pass `ifname`
    # to and from it are counted in the kernel, in named counters STEM_in and STEM_out
    # (metering, docs/metering.md "The edge")
    meters: tuple[tuple[str, str], ...] = ()
    # False: the leg is there only for private channels' tunnels (a private gateway without a
    # public one): no default route through it, nothing forwarded by it
    public: bool = True


@dataclass(frozen=True)
class TunnelSpec:
    """One end of a private channel (docs/edge.md): a WireGuard interface `ifname` in a router,
    listening on `listen_port` of its leg on the intermediate network, with its own key pair,
    one peer (its public key, the channel's preshared key, its `endpoint` "IP:PORT"), the
    prefixes the peer may send from and is sent (`allowed`), routed into the tunnel.

    On a network's side, `legs_out`: the router's legs in subnets that do not reach the site
    (nothing passes between them and the tunnel); `snat`: connections translated by the public
    gateway (a public address associated with a site host) enter the tunnel from this address
    of the router's, so the site's answer comes back the same way. On a site's side, `site`:
    the tunnel delivers to the site and nothing from it passes on to the intermediate
    network."""

    ifname: str
    private_key: str
    listen_port: int
    peer_key: str
    preshared_key: str
    endpoint: str
    allowed: tuple[str, ...]
    legs_out: tuple[str, ...] = ()
    snat: str | None = None
    site: bool = False


@dataclass(frozen=True)
class SandboxSpec:
    """Where a tenant's processes run in a node (docs/security.md, "Sandboxes").

    Every process started in the node (its workload, `facade exec`) runs as root of the node's
    own user namespace, `uid` being the host uid that root maps to (the first of a range of
    `domain.sandbox.UID_RANGE`), with the node's own view of the file system, PID, IPC and UTS
    namespaces (`hostname`), and the node's limits. `own_network`: the node's network namespace
    belongs to that user namespace, so its root may change its own routes, addresses and
    firewall (an instance or a backend, as in a VM); a front-end's stays Facade's.
    `binds`: (host directory, path inside) pairs shown read-only (an appliance's configuration).
    """

    uid: int
    hostname: str
    memory: int  # bytes
    pids: int
    cpu_weight: int  # 1..10000, 100 = normal
    own_network: bool = True
    binds: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    """A network namespace with its ports: an instance, a router or an appliance node."""

    netns: str
    role: NodeRole
    ports: tuple[PortSpec, ...]
    frontend: FrontendSpec | None = None
    # a router's legs (ifnames) in provider-internal subnets (some service's backend or
    # management subnet): nothing is routed into or out of them (docs/composition.md)
    isolated: tuple[str, ...] = ()
    # where the tenant's processes run; None: no tenant process ever runs here (a router)
    sandbox: SandboxSpec | None = None
    # a router that is its network's public gateway (docs/edge.md)
    gateway: GatewaySpec | None = None
    # a router's static routes, (prefix, next hop): the Internet core's public addresses
    routes: tuple[tuple[str, str], ...] = ()
    # a router's ends of private channels (docs/edge.md)
    tunnels: tuple[TunnelSpec, ...] = ()
    # the simulated host whose namespace holds the node's ports (docs/multi-host.md); None:
    # the local host, whose fabric namespace holds them
    host: str | None = None

    def fingerprint(self) -> str:
        """A short hash of everything but the backend set, kept in the kernel by the driver
        (computed once per spec: a spec is frozen, and the resync compares it at every look)."""
        return _once(self, self._fingerprint)

    def _fingerprint(self) -> str:
        fields = asdict(self)
        if not self.isolated:
            del fields["isolated"]  # nodes without isolated legs keep their fingerprints
        if self.sandbox is None:
            del fields["sandbox"]  # likewise routers
        if self.gateway is None:
            del fields["gateway"]  # likewise routers at no edge
        elif self.gateway.public:
            del fields["gateway"]["public"]  # and public gateways made before channels
        if not self.tunnels:
            del fields["tunnels"]
        if not self.routes:
            del fields["routes"]
        if self.host is None:
            del fields["host"]  # nodes on the local host keep their fingerprints
        for port in fields["ports"]:
            for key, empty in (("connected", False), ("neighbours", ()), ("announce", None)):
                if port[key] == empty:
                    del port[key]  # likewise ports without these
        blob = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class ProcessSpec:
    """A long-running program inside a node. `key` is unique and names its files.

    `sandboxed`: a tenant's program (a backend's workload), run in its node's sandbox (the
    node's SandboxSpec); otherwise one of Facade's own (a management agent), run as the host's
    root with only its network namespace changed.

    `early`: the program needs none of its node's network to start (it binds its address
    with IP_FREEBIND, as the built-in workloads do), so it may be started as soon as the
    node's namespace exists, while its ports are made (DataPlane.ensure_node's `start`). Not
    part of the fingerprint: when it starts does not change what runs."""

    key: str
    netns: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    sandboxed: bool = False
    early: bool = False

    def fingerprint(self) -> str:
        return _once(self, self._fingerprint)

    def _fingerprint(self) -> str:
        parts: list[object] = [self.netns, list(self.argv), list(self.env)]
        if self.sandboxed:
            parts.append("sandboxed")  # unsandboxed processes keep their fingerprints
        blob = json.dumps(parts).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class PortRuleSpec:
    """One security rule on a port (see docs/security.md): relative to the node behind the port,
    `ingress` is traffic towards it, `egress` traffic from it; `cidr` is the remote side.
    A port's rules are evaluated in the order given, first match wins, default allow."""

    direction: Literal["ingress", "egress"]
    action: Literal["allow", "deny"]
    protocol: Literal["tcp", "udp", "icmp", "any"]
    ports: str | None  # "80" or "8000-8100", tcp/udp only
    cidr: str  # IPv4 network, "0.0.0.0/0" for anywhere
    priority: int

    def describe(self) -> str:
        """Short text for events: `deny tcp 8080 from 10.0.0.0/8 (priority 10)`."""
        what = self.protocol + (f" {self.ports}" if self.ports else "")
        side = "from" if self.direction == "ingress" else "to"
        where = f" {side} {self.cidr}" if self.cidr != "0.0.0.0/0" else ""
        return f"{self.action} {what}{where} (priority {self.priority})"


def port_rules_fingerprint(rules: dict[str, tuple[PortRuleSpec, ...]]) -> str | None:
    """A short hash of every port's rules (None when no port has any: then nothing is installed)."""
    kept = {port: [asdict(r) for r in rs] for port, rs in sorted(rules.items()) if rs}
    if not kept:
        return None
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DesiredState:
    subnets: tuple[SubnetSpec, ...] = ()
    nodes: tuple[NodeSpec, ...] = ()
    processes: tuple[ProcessSpec, ...] = ()
    # front-end netns -> backend addresses that must be in rotation (healthy, not leaving)
    backends: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # fabric port (host end of a veth) -> its security rules, in evaluation order
    port_rules: dict[str, tuple[PortRuleSpec, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ObservedNode:
    netns: str
    fingerprint: str | None  # what the driver recorded when it last made the node
    addresses: frozenset[tuple[str, str]]  # (ifname, "ip/prefix") inside the namespace
    backends: tuple[str, ...] | None = None  # a front-end's backends in rotation, sorted
    # how a front-end's rotation objects differ from what set_backends writes for `backends`
    # (a slot of the map deleted or changed by hand...); None: they are exactly that
    rotation_drift: str | None = None
    # how a front-end's nftables chains differ from what the driver wrote; None: they do not
    rules_drift: str | None = None
    # the network namespace belongs to a sandbox's user namespace (SandboxSpec.own_network)
    own_network: bool = False
    # the node's links that face the fabric (its ports); None: not read
    ports: frozenset[str] | None = None
    # a tenant's network: the fabric guards its ports (port security) as recorded
    guarded: bool = False
    # the private channels' interfaces present (names.TUNNEL; only a router has any); None:
    # not read
    tunnels: frozenset[str] | None = None
    # the simulated host the driver made its ports on (NodeSpec.host); None: the local host
    host: str | None = None


@dataclass(frozen=True)
class ObservedProcess:
    key: str
    netns: str
    pid: int
    fingerprint: str


@dataclass(frozen=True)
class ObservedState:
    subnets: frozenset[str] = frozenset()  # bridge names
    nodes: dict[str, ObservedNode] = field(default_factory=dict)
    processes: dict[str, ObservedProcess] = field(default_factory=dict)
    # port_rules_fingerprint() that the driver recorded with the rules it last installed
    # (None: no rules installed)
    port_rules: str | None = None
    # the rules the kernel enforces now, read back per port (each direction's rules in order);
    # None: the driver could not read them
    port_rules_seen: dict[str, tuple[PortRuleSpec, ...]] | None = None
    # anything else in the kernel's rule objects that is not what the driver writes (an extra
    # or missing table, chain or rule, a bridge's conntrack flag), as short phrases
    port_rules_drift: tuple[str, ...] = ()


@dataclass(frozen=True)
class RulesObservation:
    """The fabric's security rules as the kernel has them (see ObservedState's fields)."""

    fingerprint: str | None = None
    seen: dict[str, tuple[PortRuleSpec, ...]] | None = None
    drift: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inventory:
    """The names of everything Facade has in the kernel: node and router namespaces, subnet
    bridges and process keys. Cheap to read (no object is inspected): the slow resync compares
    it with the store to find what nothing asks for any more."""

    namespaces: frozenset[str] = frozenset()
    subnets: frozenset[str] = frozenset()
    processes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclass(frozen=True)
class Probe:
    """One health check of a target, made from inside `netns`: a TCP connect, or (with a
    `path`) an HTTP GET judged by its status (its answer's body returned too)."""

    netns: str
    ip: str
    port: int
    timeout: float
    path: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # sent with the GET (an agent's signature)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str  # "HTTP 200", "connection refused", "timed out"...
    status: int | None = None
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
