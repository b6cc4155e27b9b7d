"""What the node reconciler reads of a node from the store (its view), read for one node, or for
many at once (quiet_views.py serves those while the store is quiet).

A node's look costs its store read (the spec from the node's row, interfaces, subnets,
appliance and service: about eight queries, 2-3 ms of CPU) beside its kernel look (0.5-2 ms);
views read many at once cost about 0.23 ms a node.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from facade.domain import names
from facade.domain.specs import NodeSpec, ProcessSpec
from facade.domain.states import NodeRole, NodeStatus
from facade.service import desired, health_checks, management
from facade.store.models import Appliance, Instance, Interface

# a node with what its view needs, loaded together (its appliance's other nodes for a
# backend's front-end)
_LOAD = (selectinload(Instance.interfaces).joinedload(Interface.subnet),
         selectinload(Instance.appliance).joinedload(Appliance.service),
         selectinload(Instance.appliance).selectinload(Appliance.nodes)
         .selectinload(Instance.interfaces))


@dataclass(frozen=True)
class NodeView:
    netns: str
    role: str
    status: str
    appliance_id: int | None
    spec: NodeSpec | None  # None while being deleted
    procs: tuple[ProcessSpec, ...]
    backend_ip: str | None  # a backend's address in its backend subnet
    fe_netns: str | None  # its appliance's front-end, unless that is being deleted
    agent_net: int | None  # the network of its management leg (its agent's)
    agent_node: management.AgentNode | None  # what its agent serves of it (its entry)
    agent_checked: bool  # a backend checked through its management agent


def view_of(home: Path, inst: Instance) -> NodeView:
    role = inst.role
    fe = next((n for n in inst.appliance.nodes if n.role == NodeRole.FRONTEND), None) \
        if inst.appliance is not None else None
    served = desired.agent_node(inst)
    return NodeView(
        netns=names.node_netns(inst.id, inst.name), role=role, status=inst.status,
        appliance_id=inst.appliance_id,
        spec=desired.node_spec(home, inst), procs=desired.node_processes(home, inst),
        backend_ip=inst.interfaces[0].ip if role == NodeRole.BACKEND and inst.interfaces else None,
        # a backend leaves a rotation that stays; one going with its front-end need not
        fe_netns=names.node_netns(fe.id, fe.name)
        if fe is not None and fe.status != NodeStatus.DELETING else None,
        agent_net=served[0] if served is not None else None,
        agent_node=served[1] if served is not None else None,
        agent_checked=role == NodeRole.BACKEND and inst.appliance is not None
        and health_checks.of_row(inst.appliance.service).type == "agent")


def read_one(session: Session, home: Path, instance_id: int) -> NodeView | None:
    inst = session.get(Instance, instance_id, options=_LOAD)
    return view_of(home, inst) if inst is not None else None


def read_from(session: Session, home: Path, first: int, count: int) -> dict[int, NodeView]:
    """The views of the `count` nodes of the lowest ids from `first` on."""
    rows = session.scalars(select(Instance).where(Instance.id >= first)
                           .order_by(Instance.id).limit(count).options(*_LOAD))
    return {inst.id: view_of(home, inst) for inst in rows}
