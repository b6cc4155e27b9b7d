"""Front-ends moved off a draining or lost host (docs/multi-host.md, "Front-ends on other
hosts"): the same node (its row, namespace, addresses and rotation) placed on the host the
scheduler picks (service/hosts_placement.py, `frontend_host`); its ports are made again
there, with the same MACs (domain/names.py `mac`: from subnet and address), so EVPN's MAC
mobility moves the endpoint to the new host, and the customer keeps its address.

A front-end is moved at once, not after a replacement as a backend is: there is one, and a
second with the same address and MAC would answer from two hosts. What is in flight when its
ports move may fail; its connections' state lives in its namespace, which stays.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain.errors import FacadeError
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.service import hosts_placement
from facade.service.context import Context
from facade.store.models import Appliance, Host, Instance


def move_off(ctx: Context, session: Session, row: Host, why: str, *,
             quiet: bool = False) -> list[str]:
    """Every front-end on host `row` placed on another host that runs (its old place left
    out); one that cannot move (every other host full) stays, with an event saying so
    (unless `quiet`: tried again, said already). Returns what moved, for a person."""
    notes = []
    for fe, app in appliance_nodes(session, row, NodeRole.FRONTEND):
        try:
            host = hosts_placement.frontend_host(session, app, fe, ctx.dataplane.host_alive,
                                                 avoid=frozenset({row.id}))
        except FacadeError as exc:
            if quiet:
                continue
            ctx.event(session, "host.frontend_stuck", row.name,
                      f"front-end {fe.name} of {app.name} cannot leave host {row.name} "
                      f"({why}): {exc.message}")
            continue
        fe.host = host
        where = host.name if host is not None else "local"
        note = (f"front-end {fe.name} of {app.name} moves from host {row.name} to {where} "
                f"({why}), with its address {fe.interfaces[0].ip} and MAC")
        ctx.event(session, "host.frontend_moved", row.name, note)  # hosts: the provider's
        notes.append(note)
    session.flush()
    return notes


def appliance_nodes(session: Session, row: Host,
                    role: NodeRole) -> Iterator[tuple[Instance, Appliance]]:
    """The nodes of `role` on host `row` that stay (not being deleted) with their appliance
    (one not being deleted), oldest first: what a host's drain or loss moves."""
    for node in session.scalars(select(Instance).where(
            Instance.host_id == row.id, Instance.role == role,
            Instance.status != NodeStatus.DELETING).order_by(Instance.id)):
        app = node.appliance
        if app is not None and app.status != ApplianceStatus.DELETING:
            yield node, app
