"""What the node reconciler reads of a node from the store (its view), read for one node, or for
every node at once while the store is quiet.

A node's look costs its store read (the spec from the node's row, interfaces, subnets,
appliance and service: about eight queries, 2-3 ms of CPU) beside its kernel look (0.5-2 ms).
The resync looks at every node, a few a second, whether anything changed or not; so while no
write has changed the store for QUIET seconds (Context.generation: every write that touches a
row the controller keys on moves it; metering's records and events do not), the views of all
nodes are read in one go (a few queries with the relationships loaded together) and served
until the next such write. A view read before a write is never used after it: the generation
is compared on every use, and a write's keys reach the queue only after it moved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from facade.domain import names
from facade.domain.specs import NodeSpec, ProcessSpec
from facade.service import desired, health_checks
from facade.service.context import Context
from facade.store.models import Appliance, Instance, Interface

# seconds without a write before every node's view is read at once
QUIET = 2.0

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
    agent_checked: bool  # a backend checked through its management agent


def view_of(home: Path, inst: Instance) -> NodeView:
    role = inst.role
    fe = next((n for n in inst.appliance.nodes if n.role == "frontend"), None) \
        if inst.appliance is not None else None
    return NodeView(
        netns=names.node_netns(inst.id, inst.name), role=role, status=inst.status,
        appliance_id=inst.appliance_id,
        spec=desired.node_spec(home, inst), procs=desired.node_processes(inst),
        backend_ip=inst.interfaces[0].ip if role == "backend" and inst.interfaces else None,
        # a backend leaves a rotation that stays; one going with its front-end need not
        fe_netns=names.node_netns(fe.id, fe.name)
        if fe is not None and fe.status != "deleting" else None,
        agent_net=desired.management_network(inst),
        agent_checked=role == "backend" and inst.appliance is not None
        and health_checks.of_row(inst.appliance.service).type == "agent")


def read_one(session: Session, home: Path, instance_id: int) -> NodeView | None:
    inst = session.get(Instance, instance_id, options=_LOAD)
    return view_of(home, inst) if inst is not None else None


def read_all(session: Session, home: Path) -> dict[int, NodeView]:
    return {inst.id: view_of(home, inst)
            for inst in session.scalars(select(Instance).options(*_LOAD))}


class NodeViews:
    """Every node's view, read at once once the store has been quiet for QUIET seconds, and
    served while it stays so."""

    def __init__(self, ctx: Context, clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx, self.clock = ctx, clock
        self._lock = threading.Lock()
        self._building = False
        self._views: dict[int, NodeView] = {}
        self._generation = -1  # of the views
        self._seen = (-1, 0.0)  # the last generation seen, and since when

    def get(self, instance_id: int) -> NodeView | None:
        """The node's view if all were read since the last write (None: read it yourself)."""
        generation = self.ctx.generation
        with self._lock:
            if generation == self._generation:
                return self._views.get(instance_id)
            now = self.clock()
            if generation != self._seen[0]:
                self._seen = (generation, now)
            if now - self._seen[1] < QUIET or self._building:
                return None
            self._building = True
        try:
            with self.ctx.read() as session:
                views = read_all(session, self.ctx.home)
        finally:
            with self._lock:
                self._building = False
        with self._lock:
            self._views, self._generation = views, generation
        return views.get(instance_id) if self.ctx.generation == generation else None
