"""A draining host's backends moved away, one per appliance at a time, the appliance serving
throughout (docs/multi-host.md, "Drain"): a replacement is made first (the scheduler, service/
hosts_placement.py, never picks a draining host), and only once every backend of the
appliance off the draining hosts passes its health check is one on them marked for deletion
(out of the rotation first, then removed, as a scale-down's). The controller's host watch
calls `step` every second with the health engine's verdicts.

Front-ends on a draining host move at once, keeping their address and MAC (service/
hosts_frontends.py). Customer instances (named onto the host or placed there by the scheduler)
stay where they are: a tenant's instance moved would lose what runs in it, so the operator
moves or deletes them; a host holding only those stays draining, and the step says so once
(event `host.drain_blocked` naming them; again only when they change).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import names
from facade.domain.errors import FacadeError
from facade.domain.states import ApplianceStatus, HostState, NodeRole, NodeStatus
from facade.service import appliances, hosts_frontends
from facade.service.context import Context
from facade.store.models import Account, Appliance, Host, Instance


def _draining(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Host.id, Host.name)
                                .where(Host.state == HostState.DRAINING)).all())


def _instances_left(ctx: Context, draining: dict[int, str],
                    said: dict[int, str] | None) -> list[str]:
    """For each draining host that holds customer instances and no appliance node any more
    (what a drain moves is gone), an event naming the instances that keep it; `said` (host id
    -> what was said, the caller's memory) makes it once, and again when they change."""
    with ctx.read() as session:
        rows = session.execute(select(Instance.host_id, Instance.role, Instance.status,
                                      Instance.name, Account.name)
                               .join(Account, Instance.name_scope_id == Account.id)
                               .where(Instance.host_id.in_(draining))
                               .order_by(Account.name, Instance.name)).all()
    staying: dict[int, list[str]] = {}
    busy: set[int] = set()
    for host_id, role, status, name, account in rows:
        assert host_id is not None  # (the query's: on a draining host)
        if role == NodeRole.INSTANCE and status != NodeStatus.DELETING:
            staying.setdefault(host_id, []).append(f"{account}/{name}")
        else:  # an appliance's node to move, or a node on its way out: not done yet
            busy.add(host_id)
    notes = []
    memory: dict[int, str] = said if said is not None else {}
    for host_id in set(memory) - (set(staying) - busy):
        del memory[host_id]  # it holds something else now, or nothing: said again if need be
    for host_id, held in sorted(staying.items()):
        if host_id in busy:
            continue
        host = draining[host_id]
        count = len(held)
        note = (f"host {host} is drained but for {count} instance{'' if count == 1 else 's'} "
                f"({', '.join(held)}): a drain does not move an instance (what runs in it "
                "would be lost); move or delete them, then remove the host")
        if memory.get(host_id) == note:
            continue
        with ctx.write() as session:
            ctx.event(session, "host.drain_blocked", host, note)
        memory[host_id] = note
        notes.append(note)
    return notes


def step(ctx: Context, healthy: Callable[[str], bool | None],
         said: dict[int, str] | None = None) -> list[str]:
    """One step of every draining host's move; what it did, for a person (empty: nothing to
    do, and then nothing was written). `said`: the caller's memory of the instances it said
    keep a drained host (the controller's host watch keeps one; None: said at every step)."""
    with ctx.read() as session:
        draining = _draining(session)
        if not draining:
            return []
        moving = sorted({a for a in session.scalars(select(Instance.appliance_id).where(
            Instance.host_id.in_(draining), Instance.role == NodeRole.BACKEND,
            Instance.status != NodeStatus.DELETING)) if a is not None})
        fronts = sorted({h for h in session.scalars(select(Instance.host_id).where(
            Instance.host_id.in_(draining), Instance.role == NodeRole.FRONTEND,
            Instance.status != NodeStatus.DELETING)) if h is not None})
    done = _instances_left(ctx, draining, said)
    for host_id in fronts:  # at once: there is one front-end, made again elsewhere
        with ctx.write() as session:
            row = session.get(Host, host_id)
            if row is not None and row.state == HostState.DRAINING:
                done += hosts_frontends.move_off(ctx, session, row, f"host {row.name} drains")
    for app_id in moving:
        with ctx.write() as session:
            note = _one(ctx, session, app_id, _draining(session), healthy)
        if note:
            done.append(note)
    return done


def _one(ctx: Context, session: Session, app_id: int, draining: dict[int, str],
         healthy: Callable[[str], bool | None]) -> str:
    app = session.get(Appliance, app_id)
    if app is None or app.status == ApplianceStatus.DELETING:
        return ""
    live = [n for n in app.nodes if n.role == NodeRole.BACKEND and n.status != NodeStatus.DELETING]
    leaving = [n for n in live if n.host_id in draining]
    if not leaving:
        return ""
    old = min(leaving, key=lambda n: n.ordinal)
    host = draining[old.host_id] if old.host_id is not None else "?"
    if len(live) <= app.desired_backends:  # its replacement first
        ordinal = max((n.ordinal for n in app.nodes if n.role == NodeRole.BACKEND), default=0)
        try:
            with session.begin_nested():
                new = appliances.add_backend(ctx, session, app, ordinal + 1)
        except FacadeError as exc:  # every other host full, say: it stays, and says why
            note = f"cannot move {old.name} off host {host}: {exc.message}"
            ctx.event(session, "host.drain_blocked", host, note)
            return note
        note = (f"backend {new.name} made on host {new.host.name if new.host else 'local'} "
                f"to take over from {old.name} on draining host {host}")
        ctx.event(session, "host.draining", host, note)
        return note
    staying = [n for n in live if n.host_id not in draining]
    if not all(healthy(names.node_netns(n.id, n.name)) for n in staying):
        return ""  # its replacement does not serve yet
    old.status = NodeStatus.DELETING
    note = f"backend {old.name} leaves draining host {host}: its replacement serves"
    ctx.event(session, "host.draining", host, note)
    return note
