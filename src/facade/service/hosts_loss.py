"""Hosts lost and found again (docs/multi-host.md, "Host failure"): a simulated host that stops
(its namespace, its link to the substrate or its bgpd gone: the control plane drives it, so it
looks) for hosts.LOST_AFTER seconds is `lost`, as a machine whose agent went silent is
(service/host_agents.py); a lost host's backends are replaced at once on the hosts that take
nodes (the scheduler leaves lost hosts out), every one of them, not one per appliance every
REPLACE_COOLDOWN as healing does for a backend that fails alone; its front-ends are moved to
another host with their addresses and MACs (service/hosts_frontends.py); it is fenced (its
FRR stopped: it announces nothing if its link comes back); and a lost host that runs again is
swept of what was made again elsewhere (the ports of nodes no longer placed there) before
its FRR starts again and it is `ready`. The controller's host watch calls `watch` every second.

A lost host's customer instances are marked `failed` (event `instance.failed`, seen by their
accounts), not moved: what runs in them would not come along; when the host is back they are
`pending` again and the node reconciler makes them `active` where they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.dataplane.errors import DataPlaneError
from facade.domain import hosts, names
from facade.domain.errors import FacadeError
from facade.domain.states import HostState, NodeRole, NodeStatus
from facade.service import appliances, hosts_frontends
from facade.service.context import Context
from facade.store.models import Host, Instance

WATCHED = (HostState.READY, HostState.DRAINING, HostState.LOST)


@dataclass
class Watch:
    """What the host watch remembers between its looks: since when each host is dead."""

    alive: Callable[[str], bool]
    clock: Callable[[], float] = time.monotonic
    dead_since: dict[str, float] = field(default_factory=dict)

    def look(self, ctx: Context) -> list[str]:
        """One look at every simulated host; what changed, for a person."""
        with ctx.read() as session:
            rows = [(r.name, HostState(r.state)) for r in session.scalars(select(Host).where(
                Host.simulated.is_(True), Host.state.in_(WATCHED)))]
        now, notes = self.clock(), []
        for name, state in rows:
            if state == HostState.LOST:  # fenced when lost: back once its link is
                note = _found(ctx, name)
                if note:
                    self.dead_since.pop(name, None)
                    notes.append(note)
                else:
                    notes += _stranded(ctx, name)
                continue
            if self.alive(name):
                self.dead_since.pop(name, None)
                continue
            since = self.dead_since.setdefault(name, now)
            if now - since >= hosts.LOST_AFTER:
                notes += _lost(ctx, name)
        return [n for n in notes if n]


def _found(ctx: Context, name: str) -> str:
    """Lost host NAME, if it runs again: swept of what was made again elsewhere meanwhile
    (every node port the store does not place there), its FRR started again, then `ready`;
    nothing is placed on it before (the scheduler takes ready hosts only)."""
    with ctx.read() as session:
        row = session.scalar(select(Host).where(Host.name == name))
        if row is None or row.state != HostState.LOST or row.address is None:
            return ""
        address = row.address
        keep = {names.port(i.id) for n in session.scalars(select(Instance).where(
            Instance.host_id == row.id, Instance.status != NodeStatus.DELETING))
            for i in n.interfaces}
    try:
        swept = ctx.dataplane.rejoin_host(name, address, keep)
    except DataPlaneError:  # its agent away (not run again yet), or its kernel not ready
        return ""
    if swept is None:
        return ""  # its namespace or link still down
    with ctx.write() as session:
        row = session.scalar(select(Host).where(Host.name == name))
        if row is None or row.state != HostState.LOST:
            return ""
        row.state = HostState.READY
        revived = _revive_instances(ctx, session, row)
        note = (f"host {name} runs again: ready, swept of what was made again elsewhere "
                f"meanwhile ({', '.join(swept) if swept else 'nothing left there'})"
                + (f"; its instances back: {', '.join(revived)}" if revived else ""))
        ctx.event(session, "host.ready", name, note)
        return note


def _stranded(ctx: Context, name: str) -> list[str]:
    """A front-end left on lost host NAME (no other host could take it when it was lost)
    moved once one can; tried at every look, said once (when the host was lost)."""
    with ctx.read() as session:
        left = session.scalar(select(Instance.id).join(Host, Instance.host_id == Host.id).where(
            Host.name == name, Instance.role == NodeRole.FRONTEND,
            Instance.status != NodeStatus.DELETING).limit(1))
    if left is None:
        return []
    with ctx.write() as session:
        row = session.scalar(select(Host).where(Host.name == name))
        if row is None or row.state != HostState.LOST:
            return []
        return hosts_frontends.move_off(ctx, session, row, f"host {name} is lost", quiet=True)


def _lost(ctx: Context, name: str) -> list[str]:
    with ctx.write() as session:
        row = session.scalar(select(Host).where(Host.name == name))
        if row is None or row.state == HostState.LOST:
            return []
        row.state = HostState.LOST
        ctx.event(session, "host.lost", name,
                  f"host {name} is lost: it has not run for {hosts.LOST_AFTER:g} s")
        # fenced first: when its link comes back it announces nothing until it is swept
        fenced = ctx.dataplane.fence_host(name)
        return [f"host {name} is lost (fenced: {', '.join(fenced) or 'its FRR had stopped'})",
                *replace_backends(ctx, session, row),
                *hosts_frontends.move_off(ctx, session, row, f"host {name} is lost"),
                *fail_instances(ctx, session, row)]


def _instances(session: Session, row: Host, status: NodeStatus | None = None) -> list[Instance]:
    """The customer instances on host `row` (not being deleted), of `status` when given."""
    return list(session.scalars(select(Instance).where(
        Instance.host_id == row.id, Instance.role == NodeRole.INSTANCE,
        Instance.status != NodeStatus.DELETING,
        *([Instance.status == status] if status is not None else [])).order_by(Instance.id)))


def fail_instances(ctx: Context, session: Session, row: Host) -> list[str]:
    """Every customer instance on lost host `row` marked `failed`, with an event its account
    sees. Not moved: an instance is a tenant's machine, and what runs in it (its processes,
    its files) would not come along; its owner deletes it and creates it again elsewhere, or
    waits for the host. The node reconciler leaves it `failed` while its host is lost
    (controller/nodes.py); `_found` gives it back to the reconciler."""
    notes = []
    for inst in _instances(session, row):
        inst.status = NodeStatus.FAILED
        note = (f"instance {inst.name} failed: its host {row.name} is lost; it is not moved "
                "(what runs in it would not come along): delete it and create it again to "
                "have it elsewhere, or wait for the host to come back")
        ctx.event(session, "instance.failed", inst.name, note, account=inst.name_scope_id)
        notes.append(note)
    return notes


def _revive_instances(ctx: Context, session: Session, row: Host) -> list[str]:
    """The instances failed with lost host `row`, back to `pending` now that it runs again:
    the node reconciler repairs each (its namespace, its ports, kept by the sweep) and makes
    it `active`; said to each one's account."""
    names_ = []
    for inst in _instances(session, row, NodeStatus.FAILED):
        inst.status = NodeStatus.PENDING
        ctx.event(session, "instance.recovering", inst.name,
                  f"instance {inst.name}: its host {row.name} runs again; it is made active "
                  "there again", account=inst.name_scope_id)
        names_.append(inst.name)
    return names_


def replace_backends(ctx: Context, session: Session, row: Host) -> list[str]:
    """Every backend on lost host `row` replaced on a host that takes nodes (its old node
    marked for deletion); one that cannot be (every other host full) is said so."""
    notes = []
    for node, app in hosts_frontends.appliance_nodes(session, row, NodeRole.BACKEND):
        try:
            with session.begin_nested():
                new = appliances.replace_backend(ctx, session, app, node,
                                                 f"its host {row.name} is lost")
        except FacadeError as exc:
            ctx.event(session, "appliance.replace_failed", app.name,
                      f"cannot replace {node.name} of lost host {row.name}: {exc.message}",
                      account=app.account_id)
            continue
        notes.append(f"backend {node.name} of lost host {row.name} replaced by {new.name}")
    return notes
