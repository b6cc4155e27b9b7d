"""The event log: what Facade did and why, newest last; each account sees its own part."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import names
from facade.domain.errors import Invalid
from facade.service.context import Caller, Context
from facade.store.models import Appliance, Event, Instance, Network, Service


def _utc(t: dt.datetime) -> dt.datetime:
    # SQLite keeps no time zone; every time Facade writes is UTC.
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


SCAN = 10_000  # events looked at, newest first, to find a tenant's `limit` events
# events about an appliance that name its provider's nodes: not for its customer's eyes
NODE_DETAIL = frozenset({"appliance.node_replaced", "appliance.replace_failed"})


def _visible_objects(session: Session, caller: Caller) -> tuple[set[str], set[str]]:
    """(names of objects whose events the caller sees in full, appliance names it sees as a
    customer only). Kernel names count: the netns of its nodes, the router and bridges of its
    networks, its workload processes and agents."""
    mine: set[str] = {caller.account}
    as_customer: set[str] = set()
    for net in session.scalars(select(Network).where(Network.account_id == caller.account_id)):
        mine |= {net.name, names.router_netns(net.id), f"agent-n{net.id}"}
        for sub in net.subnets:
            mine |= {sub.path, names.bridge(sub.id)}
    for inst in session.scalars(select(Instance).where(Instance.account_id == caller.account_id)):
        mine |= {inst.name, names.node_netns(inst.id, inst.name), f"wl{inst.id}"}
    for svc in session.scalars(select(Service).where(Service.account_id == caller.account_id)):
        mine.add(svc.name)
    for app in session.scalars(select(Appliance)):
        if app.service.account_id == caller.account_id:
            mine.add(app.name)
        elif app.account_id == caller.account_id:
            as_customer.add(app.name)
    return mine, as_customer


def list_(ctx: Context, caller: Caller, limit: int = 50) -> list[dict[str, Any]]:
    """The newest `limit` events, oldest first. The operator sees all; an account the events
    of its own objects (its networks, subnets, instances and nodes, services, the appliances it
    provides) and of the appliances it consumes, except those naming the provider's nodes.
    Objects are matched by their current names, so events of deleted objects are the
    operator's."""
    if not 1 <= limit <= 1000:
        raise Invalid("limit must be 1-1000", where="limit")
    with ctx.read() as session:
        if caller.operator:
            rows = list(session.scalars(select(Event).order_by(Event.id.desc()).limit(limit)))
        else:
            mine, as_customer = _visible_objects(session, caller)
            rows = []
            for r in session.scalars(select(Event).order_by(Event.id.desc()).limit(SCAN)):
                if r.object in mine or (r.object in as_customer
                                        and r.kind not in NODE_DETAIL):
                    rows.append(r)
                    if len(rows) == limit:
                        break
        return [{"time": _utc(r.time).isoformat(timespec="milliseconds"), "kind": r.kind,
                 "object": r.object, "message": r.message} for r in reversed(rows)]
