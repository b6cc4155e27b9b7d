"""The desired kernel state, read from the store: per object, what the controller's reconcilers
compare with the kernel (`node_spec`, `router_spec`, `agent_of`, `appliance_target`...), and
the whole world at once (`build`, for tools and tests).

Per network a router (a leg at each subnet's gateway address; legs in provider-internal
subnets isolated: nothing routed into or out of them); per subnet a segment; per
instance and appliance node a namespace with one port per interface; a workload process per
backend; per front-end the backends that may be in its rotation (the controller keeps only the
healthy ones). Rows being deleted are left out, so the reconciler removes them.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from facade.domain import names, sandbox, workload
from facade.domain.health import HealthCheck
from facade.domain.ipam import SubnetRange
from facade.domain.specs import (
    DesiredState,
    FrontendSpec,
    Leg,
    NodeSpec,
    PortRuleSpec,
    PortSpec,
    ProcessSpec,
    SandboxSpec,
    SubnetSpec,
)
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.service import (
    chains,
    gateways,
    health_checks,
    management,
    metering,
    rules,
    sandboxes,
)
from facade.store.models import (
    Appliance,
    Instance,
    Interface,
    LoadBalancer,
    Network,
    Service,
    Subnet,
)


@dataclass(frozen=True)
class BackendTarget:
    instance_id: int
    name: str
    netns: str
    ip: str
    # its management leg, for checks through its agent: (management network, address)
    mgmt: tuple[int, str] | None = None
    # the simulated host it is on (None: the local host): its checks run inside it, so a host
    # cut off from the others would pass them; the health engine asks whether the host runs
    host: str | None = None


@dataclass(frozen=True)
class ApplianceTarget:
    """What the controller needs to check an appliance: its endpoint and its backends."""

    id: int
    name: str
    status: str
    frontend_netns: str | None
    router_netns: str
    endpoint: str | None
    port: int
    health: HealthCheck
    backends: tuple[BackendTarget, ...]
    leaving: tuple[str, ...]  # netns of backends being removed
    peers_file: Path
    peers: tuple[str, ...]
    # chaining: the file the backends read to find the appliance they call, and what it says
    upstream_file: Path = Path()
    upstream: dict[str, str | None] = field(default_factory=dict)
    frontend_id: int | None = None  # the front-end's instance id (its node key)
    frontend_name: str = ""
    frontend_mgmt: tuple[int, str] | None = None  # (management network, address)
    # the backends it asks for: a ready appliance stays ready while that many serve, its
    # surplus starting or leaving (a draining host's backends moved: service/hosts_drain.py)
    desired: int = 0


@dataclass
class Desired:
    state: DesiredState
    appliances: list[ApplianceTarget] = field(default_factory=list)
    # netns -> instance id, for status bookkeeping
    instances: dict[str, int] = field(default_factory=dict)
    # one management agent per management network
    agents: list[management.Agent] = field(default_factory=list)
    # every appliance node, as metering sees it (nodes being deleted included)
    metered: list[metering.MeteredNode] = field(default_factory=list)


def appliance_dir(home: Path, appliance_id: int) -> Path:
    return home / "appliances" / str(appliance_id)


# inside a backend's sandbox: its appliance's folder (peers, upstream), read-only, and where a
# built-in workload keeps its data (the node's own /var)
APPLIANCE_INSIDE = "/facade/appliance"
DATA_INSIDE = "/var/lib/facade"


def _sandbox(home: Path, inst: Instance) -> SandboxSpec:
    limits = sandboxes.limits_of(inst)
    binds: tuple[tuple[str, str], ...] = ()
    if inst.role == NodeRole.BACKEND and inst.appliance is not None:
        binds = ((str(appliance_dir(home, inst.appliance.id)), APPLIANCE_INSIDE),)
    return SandboxSpec(uid=sandbox.uid_base(inst.account_id), hostname=inst.name,
                       memory=limits.memory, pids=limits.pids, cpu_weight=limits.cpu_weight,
                       own_network=inst.role != NodeRole.FRONTEND, binds=binds)


def _port(iface: Interface, *, gateway: bool = True, connected: bool = False,
          peers: tuple[str, ...] = ()) -> PortSpec:
    """One leg of a node. With a gateway, the node resolves it without ARP and the router
    learns the leg's address likewise; `peers`: other addresses on the segment the node
    resolves without ARP (dataplane/linux/neighbours.py)."""
    sub = iface.subnet
    rng = SubnetRange.of(sub.cidr)
    router = str(rng.gateway) if gateway else None
    return PortSpec(host=names.port(iface.id), bridge=names.bridge(sub.id),
                    ifname=names.inner_ifname(iface.index),
                    address=f"{iface.ip}/{rng.cidr.prefixlen}", gateway=router,
                    mac=names.mac(sub.id, iface.ip), connected=connected,
                    neighbours=((router,) if router else ()) + peers,
                    announce=Leg(names.router_netns(sub.network_id), names.router_ifname(sub.id))
                    if router else None)


def provider_internal(session: Session) -> set[int]:
    """Ids of the subnets that are some service's backend or management subnet, or a
    load-balancer offer's management subnet: the router of their network does not route into
    or out of them (docs/composition.md, "Placement")."""
    ids: set[int] = set()
    for backend, mgmt in session.execute(select(Service.backend_subnet_id,
                                                Service.management_subnet_id)):
        ids.update((backend, mgmt))
    ids.update(session.scalars(select(LoadBalancer.management_subnet_id)))
    return ids


def _router(net: Network, internal: set[int] | frozenset[int] = frozenset()) -> NodeSpec:
    ports = []
    isolated = []
    for sub in net.subnets:
        cidr = ipaddress.IPv4Network(sub.cidr)
        gateway = str(cidr.network_address + 1)
        ports.append(PortSpec(host=names.router_port(sub.id), bridge=names.bridge(sub.id),
                              ifname=names.router_ifname(sub.id),
                              address=f"{gateway}/{cidr.prefixlen}",
                              mac=names.mac(sub.id, gateway)))
        if sub.id in internal:
            isolated.append(ports[-1].ifname)
    return NodeSpec(netns=names.router_netns(net.id), role=NodeRole.ROUTER, ports=tuple(ports),
                    isolated=tuple(isolated))


def _host(inst: Instance) -> str | None:
    """The simulated host holding the node (docs/multi-host.md); None: the local host."""
    return inst.host.name if inst.host_id is not None and inst.host is not None \
        and inst.host.address is not None else None


def _node(home: Path, inst: Instance) -> NodeSpec:
    netns = names.node_netns(inst.id, inst.name)
    box = _sandbox(home, inst)
    if inst.role == NodeRole.FRONTEND and inst.appliance is not None:
        customer, backend, mgmt = inst.interfaces
        ports = (_port(customer), _port(backend, gateway=False), _port(mgmt))
        fe = FrontendSpec(customer_if=ports[0].ifname, backend_if=ports[1].ifname,
                          endpoint=customer.ip, port=inst.appliance.service.port,
                          unmetered_source=ports[0].gateway)
        return NodeSpec(netns=netns, role=NodeRole.FRONTEND, ports=ports, frontend=fe, sandbox=box,
                        host=_host(inst))
    if inst.role == NodeRole.BACKEND:
        # eth0 backend subnet, eth1 management, eth2.. the service's extra subnets: reached
        # from any source (connected), replies by the leg they came in on (docs/dataplane.md)
        front = next((n for n in inst.appliance.nodes if n.role == NodeRole.FRONTEND), None) \
            if inst.appliance is not None else None
        fe_ip = (front.interfaces[1].ip,) if front is not None and len(front.interfaces) > 1 \
            else ()
        return NodeSpec(netns=netns, role=NodeRole.BACKEND, ports=tuple(
            _port(i, connected=i.index >= 2, peers=fe_ip if i.index == 0 else ())
            for i in inst.interfaces), sandbox=box, host=_host(inst))
    return NodeSpec(netns=netns, role=NodeRole.INSTANCE,
                    ports=tuple(_port(i) for i in inst.interfaces), sandbox=box,
                    host=_host(inst))


def _workload(home: Path, app: Appliance, node: Instance) -> ProcessSpec:
    """A backend's workload, run in the backend's sandbox: it sees its appliance's folder at
    APPLIANCE_INSIDE (read-only) and keeps its data in the node's own /var. The private API's
    relay is the exception (workload.sandboxed): it reaches the API's socket in `home`."""
    svc = app.service
    ip = node.interfaces[0].ip
    if svc.workload:
        argv = workload.builtin_argv(sys.executable, svc.workload, ip=ip, port=svc.port,
                                     name=node.name, data_dir=DATA_INSIDE,
                                     peers_file=f"{APPLIANCE_INSIDE}/peers.json",
                                     upstream_file=f"{APPLIANCE_INSIDE}/upstream.json",
                                     api_socket=str(home / workload.API_SOCKET))
    else:
        argv = workload.render_command(svc.command or "", ip=ip, port=svc.port, name=node.name)
    return ProcessSpec(key=f"wl{node.id}", netns=names.node_netns(node.id, node.name),
                       argv=tuple(argv), sandboxed=workload.sandboxed(svc.workload),
                       early=svc.workload in workload.EARLY)


def _workload_check(node: Instance) -> dict[str, Any]:
    """What the node's agent reports of its workload: its service's check, in the agent's
    terms (`check`: listen, tcp or http; see workloads/agent/)."""
    assert node.appliance is not None
    return _check_of(node.appliance.service, node.interfaces[0].ip)


def _check_of(svc: Service, ip: str) -> dict[str, Any]:
    hc = health_checks.of_row(svc)
    return {"ip": ip, "port": svc.port, "health_path": hc.path,
            "check": "listen" if hc.type == "agent" else hc.type, "codes": hc.codes,
            "stats": svc.workload in workload.STATS}


def _upstream(session: Session, app: Appliance) -> dict[str, str | None]:
    """What the backends of `app` call: {"appliance": NAME or None, "endpoint": IP:PORT or
    None}; the endpoint is None while the named appliance does not exist (or is leaving)."""
    up = chains.upstream_of(session, app.service)
    return {"appliance": app.service.upstream,
            "endpoint": chains.endpoint(up) if up is not None else None}


def _metered(inst: Instance, netns: str, agent: management.Agent,
             mgmt_ip: str) -> metering.MeteredNode:
    app = inst.appliance
    assert app is not None
    return metering.MeteredNode(
        instance_id=inst.id, name=inst.name, netns=netns, role=inst.role,
        ip=inst.interfaces[0].ip, appliance_id=app.id, appliance=app.name,
        customer=app.account.name, provider=app.service.account.name, owner=inst.account.name,
        service=app.service.name, agent=agent, mgmt_ip=mgmt_ip)


# -- one object at a time (what the controller reconciles for one key) -----------------------

def subnet_spec(sub: Subnet) -> SubnetSpec:
    return SubnetSpec(bridge=names.bridge(sub.id), cidr=sub.cidr)


def router_spec(session: Session, net: Network) -> NodeSpec | None:
    """A network's router; None when it has no subnet (then it has no router)."""
    if not net.subnets:
        return None
    return gateways.with_edge(session, net, _router(net, provider_internal(session)))


def node_spec(home: Path, inst: Instance) -> NodeSpec | None:
    """The node of an instance or appliance node; None while it is being deleted (or has no
    interface yet)."""
    if inst.status == NodeStatus.DELETING or not inst.interfaces:
        return None
    return _node(home, inst)


def node_processes(home: Path, inst: Instance) -> tuple[ProcessSpec, ...]:
    """The programs that live in a node: a backend's workload."""
    if inst.status == NodeStatus.DELETING or inst.role != NodeRole.BACKEND \
            or inst.appliance is None or not inst.interfaces:
        return ()
    return (_workload(home, inst.appliance, inst),)


def workload_key(instance_id: int) -> str:
    return f"wl{instance_id}"


def management_network(inst: Instance) -> int | None:
    """The network of an appliance node's management leg (its agent's)."""
    if inst.appliance is None or inst.role not in management.LEG \
            or len(inst.interfaces) <= management.LEG[inst.role]:
        return None
    return inst.interfaces[management.LEG[inst.role]].subnet.network_id


def _mgmt(inst: Instance) -> tuple[int, str] | None:
    net = management_network(inst)
    return (net, inst.interfaces[management.LEG[inst.role]].ip) if net is not None else None


# what a node's agent entry and metering read of it, loaded with the node in a few queries for
# all nodes at once (not one query per node)
NODE_LOAD = (selectinload(Instance.interfaces).joinedload(Interface.subnet),
             selectinload(Instance.appliance).joinedload(Appliance.service),
             joinedload(Instance.account))


def _serve(agent: management.Agent, inst: Instance, mgmt_ip: str) -> None:
    """Add a node to what its network's agent serves."""
    agent.nodes.append(management.AgentNode(
        name=names.node_netns(inst.id, inst.name), netns=names.node_netns(inst.id, inst.name),
        mgmt_ip=mgmt_ip,
        role=inst.role, workload=_workload_check(inst) if inst.role == NodeRole.BACKEND else None))
    agent.live = agent.live or inst.status != NodeStatus.DELETING


def agent_node(inst: Instance) -> tuple[int, management.AgentNode] | None:
    """What a node's agent serves of it, with the agent's network (None: not an appliance
    node, or no management leg); its node reconciler writes it (management.write_node)."""
    leg = _mgmt(inst)
    if leg is None:
        return None
    agent = management.Agent(leg[0])
    _serve(agent, inst, leg[1])
    return leg[0], agent.nodes[0]


@dataclass(frozen=True)
class AgentRoll:
    """Which nodes a management network's agent serves: name -> (namespace, being deleted)."""

    nodes: dict[str, tuple[str, bool]]

    @property
    def live(self) -> bool:
        """It serves a node that is not being deleted (else it stops once they are gone)."""
        return any(not deleting for _, deleting in self.nodes.values())


def _served(network_id: int, *columns: Any) -> Select[Any]:
    """The rows of the nodes one network's agent serves: appliance nodes whose management leg
    (management.LEG, by role) is in that network."""
    leg = or_(*(and_(Instance.role == role, Interface.index == index)
                for role, index in management.LEG.items()))
    return (select(*columns)
            .join(Interface, Interface.instance_id == Instance.id)
            .join(Subnet, Subnet.id == Interface.subnet_id)
            .where(Subnet.network_id == network_id, Instance.appliance_id.is_not(None), leg))


def agent_roll(session: Session, network_id: int) -> AgentRoll:
    """The nodes one network's agent serves, read as plain rows (a node's name and status):
    what pruning its entries needs (each node writes its own entry)."""
    rows = session.execute(_served(network_id, Instance.id, Instance.name, Instance.status))
    # keyed by the node's agent name, its namespace's (two nodes may share an instance name)
    return AgentRoll({names.node_netns(iid, name): (names.node_netns(iid, name),
                                                    status == NodeStatus.DELETING)
                      for iid, name, status in rows})


@dataclass(frozen=True)
class AgentLiveness:
    """Whether a network's agent serves a node that is not being deleted; if it does not, the
    namespaces of the nodes it still serves on their way out (it runs while one exists)."""

    live: bool
    leaving: tuple[str, ...] = ()


def agent_liveness(session: Session, network_id: int) -> AgentLiveness:
    """AgentRoll.live, read as one row when the agent serves a live node: what its key, which
    comes back whenever one of its nodes comes or goes, asks at every creation, whatever the
    number of nodes (the whole roll took 47 ms at 1,000 nodes, beside the new node's making)."""
    live = session.execute(_served(network_id, Instance.id)
                           .where(Instance.status != NodeStatus.DELETING).limit(1)).first()
    if live is not None:
        return AgentLiveness(True)
    rows = session.execute(_served(network_id, Instance.id, Instance.name)
                           .where(Instance.status == NodeStatus.DELETING))
    return AgentLiveness(False, tuple(names.node_netns(iid, name) for iid, name in rows))


def _appliance_nodes(session: Session) -> list[tuple[Instance, int, str]]:
    """Every appliance node with its management leg (network, address), in one read."""
    rows = session.scalars(select(Instance).where(Instance.appliance_id.is_not(None))
                           .order_by(Instance.id).options(*NODE_LOAD))
    return [(inst, *leg) for inst in rows if (leg := _mgmt(inst)) is not None]


def _agents(nodes: list[tuple[Instance, int, str]]) -> dict[int, management.Agent]:
    out: dict[int, management.Agent] = {}
    for inst, net, ip in nodes:
        _serve(out.setdefault(net, management.Agent(net)), inst, ip)
    return out


def agents(session: Session) -> list[management.Agent]:
    """Every management network's agent and the nodes it serves, by network."""
    return [a for _, a in sorted(_agents(_appliance_nodes(session)).items())]


def metered_node(session: Session, inst: Instance) -> metering.MeteredNode | None:
    """An appliance node as metering sees it."""
    leg = _mgmt(inst)
    if leg is None:
        return None
    # metering asks the node through its network's agent: which network, not whom it serves
    return _metered(inst, names.node_netns(inst.id, inst.name), management.Agent(leg[0]),
                    leg[1])


def metered_nodes(session: Session) -> list[metering.MeteredNode]:
    """Every appliance node, as metering sees it (being deleted included)."""
    nodes = _appliance_nodes(session)
    agents = _agents(nodes)
    return [_metered(inst, names.node_netns(inst.id, inst.name), agents[net], ip)
            for inst, net, ip in nodes]


def appliance_target(session: Session, home: Path, app: Appliance) -> ApplianceTarget:
    fe = next((n for n in app.nodes if n.role == NodeRole.FRONTEND), None)
    live = [n for n in app.nodes if n.role == NodeRole.BACKEND and n.status != NodeStatus.DELETING]
    targets = tuple(BackendTarget(n.id, n.name, names.node_netns(n.id, n.name),
                                  n.interfaces[0].ip, _mgmt(n), _host(n))
                    for n in live if n.interfaces)
    fe_netns = names.node_netns(fe.id, fe.name) if fe and fe.status != NodeStatus.DELETING else None
    svc = app.service
    return ApplianceTarget(
        id=app.id, name=app.name, status=app.status, frontend_netns=fe_netns,
        router_netns=names.router_netns(app.subnet.network_id),
        endpoint=fe.interfaces[0].ip if fe and fe.interfaces else None, port=svc.port,
        health=health_checks.of_row(svc),
        backends=targets,
        leaving=tuple(names.node_netns(n.id, n.name) for n in app.nodes
                      if n.role == NodeRole.BACKEND and n.status == NodeStatus.DELETING),
        peers_file=appliance_dir(home, app.id) / "peers.json",
        peers=tuple(f"{t.ip}:{svc.port}" for t in targets),
        upstream_file=appliance_dir(home, app.id) / "upstream.json",
        upstream=_upstream(session, app),
        frontend_id=fe.id if fe else None, frontend_name=fe.name if fe else "",
        frontend_mgmt=_mgmt(fe) if fe else None, desired=app.desired_backends)


def appliance_targets(session: Session, home: Path, first: int = 0,
                      count: int | None = None) -> dict[int, ApplianceTarget]:
    """The targets of the appliances not being deleted (of the `count` of the lowest ids from
    `first` on; every one without `count`), read together (a few queries)."""
    query = select(Appliance).where(Appliance.status != ApplianceStatus.DELETING,
                                    Appliance.id >= first).order_by(Appliance.id).options(
        selectinload(Appliance.nodes).selectinload(Instance.interfaces)
        .joinedload(Interface.subnet),
        joinedload(Appliance.service), joinedload(Appliance.subnet))
    apps = session.scalars(query if count is None else query.limit(count))
    return {app.id: appliance_target(session, home, app) for app in apps}


def port_rules(session: Session) -> dict[str, tuple[PortRuleSpec, ...]]:
    """Every fabric port's security rules, in evaluation order."""
    out: dict[str, tuple[PortRuleSpec, ...]] = {}
    for iface_id, (mine, shared) in rules.desired(session).items():
        # one list per port: by priority; on a tie the interface's rule before the subnet's
        ordered = sorted([(r.priority, 0, i, r) for i, r in enumerate(mine)]
                         + [(r.priority, 1, i, r) for i, r in enumerate(shared)],
                         key=lambda t: t[:3])
        out[names.port(iface_id)] = tuple(t[3] for t in ordered)
    return out


def live_ports(session: Session) -> set[str]:
    """The fabric ports of every node that is wanted (rules on other ports are left out)."""
    rows = session.execute(select(Interface.id).join(Instance, Instance.id ==
                                                     Interface.instance_id)
                           .where(Instance.status != NodeStatus.DELETING))
    return {names.port(i) for (i,) in rows}


# -- the whole world at once -------------------------------------------------------------------

def build(session: Session, home: Path) -> Desired:
    subnets: list[SubnetSpec] = []
    nodes: list[NodeSpec] = []
    procs: list[ProcessSpec] = []
    backends: dict[str, tuple[str, ...]] = {}
    desired = Desired(state=DesiredState())
    internal = provider_internal(session)
    for net in session.scalars(select(Network).order_by(Network.id)):
        for sub in net.subnets:
            subnets.append(SubnetSpec(bridge=names.bridge(sub.id), cidr=sub.cidr))
        if net.subnets:
            nodes.append(gateways.with_edge(session, net, _router(net, internal)))
    agents: dict[int, management.Agent] = {}
    for inst in session.scalars(select(Instance).order_by(Instance.id)):
        if not inst.interfaces:
            continue
        netns = names.node_netns(inst.id, inst.name)
        if inst.status != NodeStatus.DELETING:
            spec = _node(home, inst)
            nodes.append(spec)
            desired.instances[spec.netns] = inst.id
            if inst.role == NodeRole.BACKEND and inst.appliance is not None:
                procs.append(_workload(home, inst.appliance, inst))
        if inst.appliance is not None and inst.role in (NodeRole.FRONTEND, NodeRole.BACKEND):
            # a node being deleted keeps its agent until it is gone: metering reads its
            # counters one last time right before the controller deletes it
            mgmt = inst.interfaces[management.LEG[inst.role]]
            agent = agents.setdefault(mgmt.subnet.network_id,
                                      management.Agent(mgmt.subnet.network_id))
            _serve(agent, inst, mgmt.ip)
            desired.metered.append(_metered(inst, netns, agent, mgmt.ip))
    desired.agents = list(agents.values())
    # an agent whose nodes are all being deleted stops in the pass that deletes them (after
    # metering read them one last time)
    procs += [management.process(home, agent.network_id) for agent in desired.agents
              if agent.live]
    for app in session.scalars(select(Appliance).order_by(Appliance.id)):
        target = appliance_target(session, home, app)
        if target.frontend_netns:
            backends[target.frontend_netns] = tuple(t.ip for t in target.backends)
        desired.appliances.append(target)
    port_rules: dict[str, tuple[PortRuleSpec, ...]] = {}
    for iface_id, (mine, shared) in rules.desired(session).items():
        # one list per port: by priority; on a tie the interface's rule before the subnet's
        ordered = sorted([(r.priority, 0, i, r) for i, r in enumerate(mine)]
                         + [(r.priority, 1, i, r) for i, r in enumerate(shared)],
                         key=lambda t: t[:3])
        port_rules[names.port(iface_id)] = tuple(t[3] for t in ordered)
    desired.state = DesiredState(subnets=tuple(subnets), nodes=tuple(nodes),
                                 processes=tuple(procs), backends=backends,
                                 port_rules=port_rules)
    return desired
