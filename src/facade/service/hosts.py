"""Hosts as the operator manages them (docs/multi-host.md): listed, read, simulated ones
added (their namespace and FRR made by the data plane, in the same transaction: a host that
cannot run is not recorded; with simulated agents, hosts_agents.py, by its agent once it
registered: one that cannot run is recorded `removed`) and removed (stopped likewise),
drained; the local host made at start, and the simulated hosts run again there (`restore`). Called by the API's /v1/hosts
routes and the server's start; instances.py asks `placement` for an instance's `host`.

A node's row has `host_id` None on the local host (as every node had before hosts), else its
simulated host's id, so a host's `nodes` is what the store says it holds. Only the operator
reads or changes hosts, and only the operator places a node on one: they are the provider's
machines, none of a tenant's business (403 for an account's token).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from facade.dataplane.errors import DataPlaneError
from facade.domain import hosts, states
from facade.domain.errors import Conflict, Forbidden, Invalid, NotFound
from facade.domain.paging import FIRST, PageRequest
from facade.domain.states import HostState
from facade.readmodels.hosts import HostPage, HostRead
from facade.service import hosts_agents, hosts_placement, paging
from facade.service.context import Caller, Context
from facade.store.models import Account, Host, Instance

ORDER = paging.by_id("hosts", Host.id)


def ensure_local(ctx: Context) -> None:
    """The local host, made if the store has none (migration 0023 makes it for every store;
    this is for one whose row was lost, say a restore of a hand-made dump)."""
    with ctx.write() as session:
        if session.scalar(select(Host.id).where(Host.name == hosts.LOCAL)) is None:
            session.add(Host(name=hosts.LOCAL, address=None, state=HostState.READY,
                             capacity=hosts.LOCAL_CAPACITY, simulated=False))
            ctx.event(session, "host.created", hosts.LOCAL,
                      "the local host was made: it holds every node")


def _require_operator(caller: Caller, what: str) -> None:
    if not caller.operator:
        raise Forbidden(f"only the operator may {what}: hosts are the provider's machines",
                        where="host")


def _holding(row: Host) -> Any:
    """The nodes `row` holds, as SQL: the local host's are also those with no host."""
    if row.name == hosts.LOCAL and row.address is None:
        return or_(Instance.host_id.is_(None), Instance.host_id == row.id)
    return Instance.host_id == row.id


def _count(session: Session, row: Host) -> int:
    return session.scalar(select(func.count(Instance.id)).where(_holding(row))) or 0


def _counts(session: Session, rows: list[Host]) -> dict[int, int]:
    """The nodes each host of a page holds, in one query (plus one for the unplaced)."""
    found = dict(session.execute(
        select(Instance.host_id, func.count(Instance.id))
        .where(Instance.host_id.in_([r.id for r in rows])).group_by(Instance.host_id)).all())
    counts = {r.id: int(found.get(r.id, 0)) for r in rows}
    for r in rows:
        if r.name == hosts.LOCAL and r.address is None:
            counts[r.id] += session.scalar(
                select(func.count(Instance.id)).where(Instance.host_id.is_(None))) or 0
    return counts


def rule_view(row: Host, nodes: int) -> hosts.Host:
    """The row as domain.hosts sees it."""
    return hosts.Host(name=row.name, address=row.address, state=HostState(row.state),
                      capacity=row.capacity, heartbeat=row.heartbeat_at,
                      simulated=row.simulated, nodes=nodes)


def view(row: Host, nodes: int, claimed_by: str | None = None) -> HostRead:
    host = rule_view(row, nodes)
    return HostRead(name=host.name, address=host.address, state=host.state,
                    capacity=host.capacity, nodes=nodes, heartbeat=host.heartbeat,
                    simulated=host.simulated, local=host.local, detail=host.detail,
                    claimed_by=claimed_by)


def claimants(session: Session) -> dict[int, str]:
    """The name of the account that claims each claimed host (dedicated tenancy), by
    host id."""
    held = hosts_placement.claims(session)
    ids = {h: held.claimed_by(h) for h in held.claimants}
    names = dict(session.execute(select(Account.id, Account.name).where(
        Account.id.in_([a for a in ids.values() if a is not None]))).all())
    return {h: names[a] for h, a in ids.items() if a in names}


def _find(session: Session, name: str) -> Host:
    hosts.check_name(name, where="name")
    row = session.scalar(select(Host).where(Host.name == name))
    if row is None:
        raise NotFound(f"host {name!r} does not exist", where="name")
    return row


def list_(ctx: Context, caller: Caller, page: PageRequest = FIRST,
          state: str | None = None) -> HostPage:
    """A page of the hosts, by creation; removed ones only when `state` asks for them."""
    _require_operator(caller, "list hosts")
    where = [Host.state == states.host_state(state)] if state is not None \
        else [Host.state != HostState.REMOVED]
    with ctx.read() as session:
        rows, cursor = paging.objects(session, select(Host).where(*where), ORDER, page,
                                      lambda r: (r.id,))
        counts = _counts(session, rows)
        claimed = claimants(session)
        return HostPage.of([view(r, counts[r.id], claimed.get(r.id)) for r in rows], cursor)


def restore(ctx: Context) -> list[str]:
    """At start: every simulated host the store has (not removed) running again (the data
    plane keeps what runs: a restart of the control plane changes nothing of it). Returns
    the names of those that could not run (logged by the caller; their nodes wait). A lost
    host is left fenced: the host watch sweeps it before it rejoins (service/hosts_loss.py)."""
    if hosts_agents.running(ctx):
        # their agents, started again (the API is not served yet: they register once it is,
        # keeping their hosts as they are; a lost one fences itself until it is rejoined)
        with ctx.read() as session:
            every = [(h.name, h.address) for h in session.scalars(select(Host).where(
                Host.simulated.is_(True), Host.state != HostState.REMOVED))
                if h.address is not None]
        for name, address in every:
            hosts_agents.start(ctx, name, address)
        return []
    with ctx.read() as session:
        rows = [(h.name, h.address) for h in session.scalars(
            select(Host).where(Host.simulated.is_(True),
                               Host.state.not_in((HostState.REMOVED, HostState.LOST))))
            if h.address is not None]
    failed = []
    for name, address in rows:
        try:
            ctx.dataplane.ensure_host(name, address)
        except DataPlaneError:
            failed.append(name)
    return failed


def placement(session: Session, caller: Caller, value: object,
              where: str = "host") -> Host | None:
    """The host a new node goes on, named by `value` (None or `local`: the local host, whose
    nodes have no `host_id`): only the operator chooses; an unknown host is a 400, one that
    takes nothing new (draining, lost, removed, or a machine whose agent does not make
    nodes yet) a 409, each naming it."""
    if value is None or value == hosts.LOCAL:
        return None
    name = hosts.check_name(value, where=where)
    if not caller.operator:
        raise Forbidden("only the operator places a node on a host (hosts are the provider's "
                        "machines); leave `host` out", where=where)
    row = session.scalar(select(Host).where(Host.name == name))
    if row is None or row.state == HostState.REMOVED:
        raise Invalid(f"host {name!r} does not exist (facade host list)", where=where)
    if row.state != HostState.READY:
        raise Conflict(f"host {name} is {row.state}: nothing new is placed on it", where=where)
    if not row.simulated:
        # a machine's agent registers and heartbeats, but does not yet make nodes (the
        # desired state it will pull: docs/multi-host.md, "Slice 3")
        raise Conflict(f"host {name} is a machine whose agent does not make nodes yet: only "
                       "simulated hosts take nodes in this version", where=where)
    return row


def add(ctx: Context, caller: Caller, body: dict[str, Any]) -> HostRead:
    """Add a simulated host (`ready`, at the next free underlay address unless one is
    given): the data plane makes its namespace on the substrate and starts its FRR before the
    row is committed (the substrate, the route reflector and the local host's leg come with
    the first host). A removed host's name is taken again by its row."""
    _require_operator(caller, "add hosts")
    if body.get("simulated") is not True:
        raise Invalid("only simulated hosts can be added (\"simulated\": true): a real machine "
                      "joins with its host agent (facade host token create NAME, then facade "
                      "host-agent on it)", where="simulated")
    name = hosts.check_name(body.get("name"), simulated=True)
    capacity = hosts.DEFAULT_CAPACITY if body.get("capacity") is None \
        else hosts.check_capacity(body["capacity"])
    given = body.get("address")
    address = None if given is None else hosts.check_simulated_address(given)
    with ctx.write() as session:
        live = session.scalars(select(Host).where(Host.state != HostState.REMOVED)).all()
        if any(h.name == name for h in live):
            raise Conflict(f"host {name} exists already", where="name")
        taken = [h.address for h in live if h.address is not None]
        if address in taken:
            holder = next(h.name for h in live if h.address == address)
            raise Conflict(f"underlay address {address} is host {holder}'s", where="address")
        address = address or hosts.next_address(taken)
        row = session.scalar(select(Host).where(Host.name == name))
        if row is None:
            row = Host(name=name)
            session.add(row)
        row.address, row.state, row.capacity = address, HostState.READY, capacity
        row.simulated, row.heartbeat_at = True, None
        if hosts_agents.running(ctx):
            row.agent_id = None  # its agent registers (a removed host's was another run's)
        session.flush()
        if not hosts_agents.running(ctx):
            _run(ctx, name, address)
            ctx.event(session, "host.created", name,
                      f"simulated host {name} runs at {address} (its namespace and FRR)")
            return view(row, _count(session, row))
    return _add_on_agent(ctx, name, address)


def _add_on_agent(ctx: Context, name: str, address: str) -> HostRead:
    """The host's row recorded, then its agent started; once it registered and asks for work
    the host is made through it (the routed plane makes the overlay's shared part first). A
    host that cannot start: its agent stopped, the row removed, 409 (as without agents)."""
    try:
        hosts_agents.start(ctx, name, address)
        if not hosts_agents.wait(ctx, name):
            raise DataPlaneError(f"its agent did not register within "
                                 f"{hosts_agents.START_WAIT:g} s (its log: host-agents/{name}/"
                                 "agent.log in the state folder)")
        ctx.dataplane.ensure_host(name, address)
    except DataPlaneError as exc:
        with contextlib.suppress(DataPlaneError):
            ctx.dataplane.remove_host(name)  # what was made of it
        hosts_agents.stop(ctx, name)
        with ctx.write() as session:
            row = session.scalar(select(Host).where(Host.name == name))
            if row is not None:
                row.state, row.agent_id = HostState.REMOVED, None
        raise Conflict(f"simulated host {name} could not be started: {exc}",
                       where="name") from exc
    with ctx.write() as session:
        row = _find(session, name)
        ctx.event(session, "host.created", name,
                  f"simulated host {name} runs at {address} (its namespace and FRR, made by "
                  "its agent)")
        return view(row, _count(session, row))


def _run(ctx: Context, name: str, address: str) -> None:
    """The host's kernel side, made now; a failure is the request's (nothing recorded)."""
    try:
        ctx.dataplane.ensure_host(name, address)
    except DataPlaneError as exc:
        with contextlib.suppress(DataPlaneError):
            ctx.dataplane.remove_host(name)  # what was made of it
        raise Conflict(f"simulated host {name} could not be started: {exc}",
                       where="name") from exc


def get(ctx: Context, caller: Caller, name: str) -> HostRead:
    _require_operator(caller, "read hosts")
    with ctx.read() as session:
        row = _find(session, name)
        return view(row, _count(session, row), claimants(session).get(row.id))


def drain(ctx: Context, caller: Caller, name: str) -> HostRead:
    """Nothing new is placed on the host (state `draining`), and its appliances' backends move
    away, each appliance serving throughout (the controller's host watch: service/
    hosts_drain.py); instances named onto it stay (docs/multi-host.md, "Drain")."""
    return _move(ctx, caller, name, "drain", lambda h: h.drained(), "host.draining",
                 lambda nodes: f"host {name} is draining: nothing new is placed on it "
                               f"({nodes} node{'' if nodes == 1 else 's'} on it)")


def resume(ctx: Context, caller: Caller, name: str) -> HostRead:
    """A draining host takes new nodes again (`ready`); resuming a ready host changes
    nothing; a lost or removed one is a 409."""
    return _move(ctx, caller, name, "resume", lambda h: h.resumed(), "host.ready",
                 lambda _: f"host {name} takes new nodes again (it was draining)")


def _move(ctx: Context, caller: Caller, name: str, verb: str,
          rule: Callable[[hosts.Host], HostState], kind: str,
          message: Callable[[int], str]) -> HostRead:
    """The host moved to the state `rule` says (a Conflict when it may not), with an event
    when it changed."""
    _require_operator(caller, f"{verb} hosts")
    with ctx.write() as session:
        row = _find(session, name)
        nodes = _count(session, row)
        new = rule(rule_view(row, nodes))
        if row.state != new:
            row.state = new
            ctx.event(session, kind, name, message(nodes))
        return view(row, nodes)


def remove(ctx: Context, caller: Caller, name: str) -> None:
    """The host taken out (state `removed`, its row kept); refused while it holds nodes, and
    always for the local host. Removing a removed host again changes nothing."""
    _require_operator(caller, "remove hosts")
    with ctx.write() as session:
        row = _find(session, name)
        if row.state == HostState.REMOVED:
            return
        rule_view(row, _count(session, row)).removable()
        if row.simulated:  # its FRR stopped (its routes withdrawn), its namespace removed
            try:
                ctx.dataplane.remove_host(name)
            except DataPlaneError as exc:
                raise Conflict(f"simulated host {name} could not be stopped: {exc}; try "
                               "again, or `facade cleanup`", where="host") from exc
        row.state = HostState.REMOVED
        ctx.event(session, "host.removed", name, f"host {name} was removed")
    if row.simulated and hosts_agents.running(ctx):
        hosts_agents.stop(ctx, name)  # after its host went (it removed it)


def held(session: Session, row: Host) -> int:
    """How many nodes the host holds (service/host_agents.py answers a registration so)."""
    return _count(session, row)
