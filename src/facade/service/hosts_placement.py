"""Where a new backend, front-end or instance goes once simulated hosts run (docs/multi-host.md,
"Scheduling", "Front-ends on other hosts", "Instances placed by the scheduler"): backends
spread over the hosts, the local one included, as a load balancer's backends should be (a host
lost takes as few of an appliance's backends as it can). With no simulated host it is the
local host, as it always was, and nothing but the hosts is read.

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

An instance that names no host (`instance_host`) goes on the host holding the fewest nodes,
the local host first on a tie, then the first by name, among the same hosts; one that names
its host is checked against the claims (`check_shared`). Instances are never moved: a drain
leaves them, a host's loss marks them failed (service/hosts_loss.py).

Tenancy (domain/tenancy.py, docs/multi-host.md "Dedicated tenancy") is a filter any node
kind's placement calls (`claims`, then `Claims.allows`): a dedicated appliance's nodes go only
on hosts holding no other account's nodes, and a host holding a dedicated node is claimed by
its account: no other account's node goes there until it holds none. The local host is never
a dedicated node's: it holds every network's router, shared front-ends and the control plane,
so it is nobody's alone (and it is never claimed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from facade.domain import hosts, tenancy
from facade.domain.errors import Conflict, Exhausted
from facade.domain.states import HostState, NodeRole, NodeStatus
from facade.store.models import Account, Appliance, Host, Instance, Service


@dataclass(frozen=True)
class Claims:
    """Whose nodes each host other than the local one holds (by host id): `tenants`, the
    accounts its nodes are for; `claimants`, those of them with a dedicated node there."""

    tenants: dict[int, set[int]] = field(default_factory=dict)
    claimants: dict[int, set[int]] = field(default_factory=dict)

    def allows(self, host_id: int | None, tenant: int, dedicated: bool) -> bool:
        """Whether a node of `tenant` (dedicated or not) may go on host `host_id` (None:
        the local host, which takes every shared node and no dedicated one)."""
        if host_id is None:
            return not dedicated
        return tenancy.allows(tenant, dedicated, self.tenants.get(host_id, set()),
                              self.claimants.get(host_id, set()))

    def claimed_by(self, host_id: int) -> int | None:
        """The account that claims the host, if one does (only one can)."""
        return min(self.claimants.get(host_id, set()), default=None)


def dedicated_sql() -> ColumnElement[bool]:
    """Whether a node belongs to a dedicated appliance, as SQL over Instance, Appliance and
    Service (outer-joined: an instance has neither)."""
    return or_(Appliance.tenancy == tenancy.Tenancy.DEDICATED,
               Service.tenancy == tenancy.Tenancy.DEDICATED)


def claims(session: Session) -> Claims:
    """Every host's tenants and claimants, in one query; the local host's nodes are left out
    (it is never claimed). A node being deleted still counts: it is there until it is gone."""
    local = session.scalar(select(Host.id).where(Host.name == hosts.LOCAL))
    rows = session.execute(
        select(Instance.host_id, Instance.name_scope_id, dedicated_sql())
        .outerjoin(Appliance, Instance.appliance_id == Appliance.id)
        .outerjoin(Service, Appliance.service_id == Service.id)
        .where(Instance.host_id.is_not(None), Instance.host_id != local).distinct()).all()
    out = Claims()
    for host_id, tenant, dedicated in rows:
        assert host_id is not None  # (the query's)
        out.tenants.setdefault(host_id, set()).add(tenant)
        if dedicated:
            out.claimants.setdefault(host_id, set()).add(tenant)
    return out


def is_dedicated(app: Appliance) -> bool:
    return tenancy.effective(app.service.tenancy, app.tenancy) == tenancy.Tenancy.DEDICATED


def check_shared(session: Session, host: Host | None, tenant: int, where: str = "host") -> None:
    """A shared node of `tenant` named onto `host` (an instance): a 409 naming `where` when
    another account's dedicated nodes claim it."""
    if host is None:
        return
    held = claims(session)
    if not held.allows(host.id, tenant, dedicated=False):
        owner = session.get(Account, held.claimed_by(host.id))
        raise Conflict(f"host {host.name} is claimed by account "
                       f"{owner.name if owner else '?'}: it holds that account's dedicated "
                       "nodes, and no other account's node goes on it until it holds none",
                       where=where)


def _no_dedicated_host(app: Appliance) -> Exhausted:
    return Exhausted(
        f"appliance {app.name} is dedicated: its nodes go only on hosts that hold no other "
        "account's nodes, and no host that takes nodes is free of them with room left (the "
        "local host never is: it holds every router and shared front-ends); add a host "
        "(facade host add NAME --simulated)", where="tenancy")


def _backends_by_host(app: Appliance) -> dict[int | None, int]:
    mine: dict[int | None, int] = {}
    for node in app.nodes:
        if node.role == NodeRole.BACKEND and node.status != NodeStatus.DELETING:
            mine[node.host_id] = mine.get(node.host_id, 0) + 1
    return mine


@dataclass(frozen=True)
class _Hosts:
    """What one placement reads of the hosts: the simulated ones that take nodes now
    (`ready`), the nodes every host holds (`held`, by host id; None: the local host's rows
    with no host), their tenants and claimants, and the local host's row."""

    ready: list[Host]
    held: dict[int | None, int]
    claims: Claims
    local: Host | None

    @property
    def local_id(self) -> int | None:
        return self.local.id if self.local is not None else None

    @property
    def local_nodes(self) -> int:
        """The local host's nodes: those with no host and those naming it."""
        return self.held.get(None, 0) + self.held.get(self.local_id, 0)

    def local_has_room(self) -> bool:
        capacity = self.local.capacity if self.local is not None else hosts.LOCAL_CAPACITY
        return self.local_nodes < capacity

    def has_room(self, row: Host) -> bool:
        return self.held.get(row.id, 0) < row.capacity


def _running(session: Session, alive: Callable[[str], bool],
             avoid: frozenset[int] = frozenset()) -> list[Host]:
    """The simulated hosts that take new nodes now: ready, running, not in `avoid`."""
    return [r for r in session.scalars(select(Host).where(Host.simulated.is_(True),
                                                          Host.state == HostState.READY))
            if r.id not in avoid and alive(r.name)]


def _hosts(session: Session, ready: list[Host], leave_out: Instance | None = None) -> _Hosts:
    """Everything a placement weighs, `leave_out` (a front-end being moved) not counted."""
    session.flush()
    counted = select(Instance.host_id, func.count(Instance.id)).group_by(Instance.host_id)
    if leave_out is not None:
        counted = counted.where(Instance.id != leave_out.id)
    return _Hosts(ready=ready, held=dict(session.execute(counted).all()), claims=claims(session),
                  local=session.scalar(select(Host).where(Host.name == hosts.LOCAL)))


def _place(session: Session, app: Appliance, alive: Callable[[str], bool], *,
           frontend: Instance | None = None, avoid: frozenset[int] = frozenset(),
           where: str) -> Host | None:
    """The host of one more node of `app` (a backend, or its front-end `frontend`, whose own
    row is not counted where it is); None: the local host. A backend's candidates are ordered
    by: the fewest of the appliance's backends (anti-affinity), for a dedicated appliance a
    host its account holds already before one it would claim, the fewest nodes, the name. A
    front-end's: a host its account holds already first (a dedicated appliance's front-end
    claims no host of its own: it goes where its backends are, away from the most of them),
    then the fewest of the appliance's backends, a simulated host before the local one, the
    fewest nodes, the name."""
    dedicated = is_dedicated(app)
    ready = _running(session, alive, avoid)
    if not ready and not dedicated:
        return None  # no simulated host runs: the local host, as it always was
    seen = _hosts(session, ready, frontend)
    mine = _backends_by_host(app)
    tenants = seen.claims
    tenant = app.account_id
    local_id = seen.local_id
    candidates: list[tuple[int, int, int, int, str, Host | None]] = []
    for row in ready:
        if seen.has_room(row) and tenants.allows(row.id, tenant, dedicated):
            claim = int(dedicated and tenant not in tenants.tenants.get(row.id, ()))
            spread = mine.get(row.id, 0)
            first, second = (claim, spread) if frontend is not None else (spread, claim)
            candidates.append((first, second, 0, seen.held.get(row.id, 0), row.name, row))
    # the local host: its nodes have no host (None)
    if local_id not in avoid and tenants.allows(None, tenant, dedicated) \
            and seen.local_has_room():
        spread = mine.get(None, 0) + mine.get(local_id, 0)
        first, second = (0, spread) if frontend is not None else (spread, 0)
        candidates.append((first, second, int(frontend is not None), seen.local_nodes,
                           hosts.LOCAL, None))
    if not candidates:
        if dedicated:
            raise _no_dedicated_host(app)
        raise Exhausted("every host that runs is full (its capacity in nodes reached): add a "
                        "host or raise a capacity", where=where)
    return min(candidates, key=lambda c: c[:5])[5]


def instance_host(session: Session, tenant: int,
                  alive: Callable[[str], bool] = lambda _: True) -> Host | None:
    """The host of a new instance of account `tenant` that names none; None: the local host.
    With no simulated host that runs it is the local host, as it always was, and nothing but
    the hosts is read. Otherwise the candidates are the hosts that take nodes (the local one,
    and the simulated ones ready and running, as for backends) with room left and whose
    claims allow a shared node of `tenant` (another account's dedicated nodes keep it out; its
    own account's do not); among them the one holding the fewest nodes, the local host first
    on a tie (the control plane's machine is never lost, and a first instance goes where it
    always went), then the first by name. None left: a 409 naming `host`."""
    ready = _running(session, alive)
    if not ready:
        return None
    seen = _hosts(session, ready)
    candidates: list[tuple[int, int, str, Host | None]] = [
        (seen.held.get(row.id, 0), 1, row.name, row) for row in ready
        if seen.has_room(row) and seen.claims.allows(row.id, tenant, dedicated=False)]
    if seen.local_has_room():  # the local host takes every shared node
        candidates.append((seen.local_nodes, 0, hosts.LOCAL, None))
    if not candidates:
        raise Exhausted("no host that runs can take the instance: each is full (its capacity "
                        "in nodes reached) or claimed by another account's dedicated nodes; "
                        "add a host or raise a capacity", where="host")
    return min(candidates, key=lambda c: c[:3])[3]


def backend_host(session: Session, app: Appliance,
                 alive: Callable[[str], bool] = lambda _: True) -> Host | None:
    """The host of `app`'s next backend; None: the local host. `alive` says whether a
    simulated host runs now (the data plane's host_alive): one that stopped is left out before
    its loss is declared (healing's replacement of its dead backend must not go back to it).
    A dedicated appliance's backend goes only where its tenancy allows (Claims.allows), first
    on a host its account holds already (fewer hosts claimed), after the anti-affinity."""
    return _place(session, app, alive, where="backends")


def frontend_host(session: Session, app: Appliance, fe: Instance,
                  alive: Callable[[str], bool] = lambda _: True,
                  avoid: frozenset[int] = frozenset()) -> Host | None:
    """The host of `app`'s front-end `fe` (made now, or moved off a draining or lost host:
    `avoid` are host ids it must leave); None: the local host. With no simulated host that
    runs it is the local host, as it always was (a dedicated appliance's: only where its
    tenancy allows, as its backends)."""
    return _place(session, app, alive, frontend=fe, avoid=avoid, where="frontend")
