"""Where a new backend goes once simulated hosts run (docs/multi-host.md, "Scheduling"):
spread over the hosts, the local one included, as a load balancer's backends should be (a
host lost takes as few of an appliance's backends as it can). With no simulated host it is
the local host, as it always was, and nothing is read.

A backend goes on the host holding the fewest of its appliance's backends (anti-affinity),
then the fewest nodes in all, then the first by name; hosts that take nothing new (draining,
lost, removed), machines whose agent does not make nodes yet, full ones (their capacity
reached) and simulated hosts that do not run at this moment are left out.

A front-end (`frontend_host`) goes on the host holding the fewest of its appliance's backends
(a host lost then takes the endpoint or backends, not both, where the hosts allow), then a
simulated host before the local one (the control plane's machine already runs every router,
management agent and the control plane itself, none of them counted as nodes), then the
fewest nodes, then the first by name; the same hosts are left out. Routers and management
agents stay on the local host (docs/multi-host.md, "Front-ends on other hosts").
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facade.domain import hosts
from facade.domain.errors import Exhausted
from facade.domain.states import HostState, NodeRole, NodeStatus
from facade.store.models import Appliance, Host, Instance


def backend_host(session: Session, app: Appliance,
                 alive: Callable[[str], bool] = lambda _: True) -> Host | None:
    """The host of `app`'s next backend; None: the local host. `alive` says whether a
    simulated host runs now (the data plane's host_alive): one that stopped is left out before
    its loss is declared (healing's replacement of its dead backend must not go back to it)."""
    ready = session.scalars(select(Host).where(Host.simulated.is_(True),
                                               Host.state == HostState.READY)).all()
    if not ready:
        return None
    held = dict(session.execute(select(Instance.host_id, func.count(Instance.id))
                                .group_by(Instance.host_id)).all())
    mine: dict[int | None, int] = {}
    for node in app.nodes:
        if node.role == NodeRole.BACKEND and node.status != NodeStatus.DELETING:
            mine[node.host_id] = mine.get(node.host_id, 0) + 1
    # the local host: its nodes have no host (None)
    local = session.scalar(select(Host).where(Host.name == hosts.LOCAL))
    candidates: list[tuple[int, int, str, Host | None]] = []
    local_nodes = held.get(None, 0) + (held.get(local.id, 0) if local is not None else 0)
    if local_nodes < (local.capacity if local is not None else hosts.LOCAL_CAPACITY):
        candidates.append((mine.get(None, 0) + (mine.get(local.id, 0) if local else 0),
                           local_nodes, hosts.LOCAL, None))
    for row in ready:
        if held.get(row.id, 0) < row.capacity and alive(row.name):
            candidates.append((mine.get(row.id, 0), held.get(row.id, 0), row.name, row))
    if not candidates:
        raise Exhausted("every host is full (its capacity in nodes reached): add a host or "
                        "raise a capacity", where="backends")
    return min(candidates, key=lambda c: c[:3])[3]


def frontend_host(session: Session, app: Appliance, fe: Instance,
                  alive: Callable[[str], bool] = lambda _: True,
                  avoid: frozenset[int] = frozenset()) -> Host | None:
    """The host of `app`'s front-end `fe` (made now, or moved off a draining or lost host:
    `avoid` are host ids it must leave); None: the local host. With no simulated host that
    runs it is the local host, as it always was. Its own row is not counted where it is."""
    ready = [r for r in session.scalars(select(Host).where(Host.simulated.is_(True),
                                                           Host.state == HostState.READY))
             if r.id not in avoid and alive(r.name)]
    if not ready:
        return None
    session.flush()
    held = dict(session.execute(select(Instance.host_id, func.count(Instance.id))
                                .where(Instance.id != fe.id).group_by(Instance.host_id)).all())
    mine: dict[int | None, int] = {}
    for node in app.nodes:
        if node.role == NodeRole.BACKEND and node.status != NodeStatus.DELETING:
            mine[node.host_id] = mine.get(node.host_id, 0) + 1
    local = session.scalar(select(Host).where(Host.name == hosts.LOCAL))
    local_id = local.id if local is not None else None
    candidates: list[tuple[int, bool, int, str, Host | None]] = []
    for row in ready:
        if held.get(row.id, 0) < row.capacity:
            candidates.append((mine.get(row.id, 0), False, held.get(row.id, 0), row.name, row))
    local_nodes = held.get(None, 0) + held.get(local_id, 0)
    if local_id not in avoid and local_nodes < (local.capacity if local is not None
                                                else hosts.LOCAL_CAPACITY):
        candidates.append((mine.get(None, 0) + mine.get(local_id, 0), True, local_nodes,
                           hosts.LOCAL, None))
    if not candidates:
        raise Exhausted("every host that runs is full (its capacity in nodes reached): add a "
                        "host or raise a capacity", where="frontend")
    return min(candidates, key=lambda c: c[:4])[4]
